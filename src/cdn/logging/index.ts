/** JSON logs with request ids for the servers (see logger.ts). */
export * from './logger.ts';
