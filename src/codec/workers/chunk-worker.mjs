// Bootstrap for the chunk worker: registers the tsx loader (the worker does not inherit the
// CLI's in-process registration) and loads the TypeScript worker.
import { register } from 'tsx/esm/api';
register();
await import('./chunk-worker.ts');
