/**
 * modelcdn's library API, one namespace per layer (formats → codec → delta → store → cdn):
 *
 *   import { formats, codec, delta, store, client } from 'modelcdn';
 *   const layout = await formats.readModelLayout('model.onnx');
 *   await codec.packFile('model.onnx', 'model.mcz');
 *   await client.pull({ ref: 'my-model@latest', server: 'http://edge:8081' });
 */
export * as formats from './formats/index.ts';
export * as codec from './codec/index.ts';
export * as delta from './delta/index.ts';
export * as store from './store/index.ts';
export { S3BlobStore, type S3BlobStoreOptions } from './store/s3.ts';
export * as chunks from './store/chunks/index.ts';
export * as manifest from './cdn/manifest/index.ts';
export * as client from './cdn/client/index.ts';
export * as eviction from './cdn/eviction/index.ts';
export { McdnError, EXIT_CODES, HTTP_STATUS, EXIT_NO_BENEFIT, type ErrorCategory } from './errors.ts';
