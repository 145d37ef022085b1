// Worker-thread entry of search's evaluation pool: prunedet runs its TypeScript sources through tsx, and loader hooks
// registered in the main thread do not reach worker threads, so each worker registers tsx itself, then loads worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
