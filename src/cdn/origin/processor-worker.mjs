// Bootstrap for the publish processor worker: registers the tsx loader (a worker does not inherit
// the main thread's in-process registration) and loads the TypeScript worker.
import { register } from 'tsx/esm/api';
register();
await import('./processor-worker.ts');
