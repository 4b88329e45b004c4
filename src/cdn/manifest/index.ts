/** Public surface of the manifest module: schema, parse, sign and verify. */
export * from './manifest.ts';
export * from './sign.ts';
