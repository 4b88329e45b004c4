/** Shared, pure HTTP pieces used by the origin and the edge: Range, ETag/conditionals, encodings, validation, error mapping. */
export * from './range.ts';
export * from './etag.ts';
export * from './encoding.ts';
export * from './validate.ts';
export * from './errors.ts';
