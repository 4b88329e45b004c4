/**
 * Worker-thread side of the publish processors: the CPU-heavy steps (precompression, packing, delta
 * patches, format parsing) run here so the origin's event loop keeps serving while a version is
 * processed. Receives `{id, op, args}`, answers `{id, ok, result | error}`; announces the ops it can
 * do with `{ready: [...]}` first.
 */
import { parentPort } from 'node:worker_threads';
import { isMcdnError } from '../../errors.ts';
import { loadProcessors, type Processors } from './processors.ts';

const port = parentPort!;
const procs: Processors = await loadProcessors();
const ops = (['encode', 'detectFormat', 'pack', 'makePatch'] as const).filter((k) => typeof procs[k] === 'function');
port.postMessage({ ready: ops });
port.on('message', async (m: { id: number; op: (typeof ops)[number]; args: unknown[] }) => {
  try {
    const fn = procs[m.op] as ((...a: unknown[]) => Promise<unknown>) | undefined;
    if (!fn) throw new Error(`operation ${m.op} is not available`);
    const result = await fn(...m.args);
    port.postMessage({ id: m.id, ok: true, result });
  } catch (e) {
    port.postMessage({
      id: m.id,
      ok: false,
      error: isMcdnError(e) ? { code: e.code, category: e.category, message: e.message } : { code: 'INTERNAL', category: 'internal', message: (e as Error)?.message ?? String(e) },
    });
  }
});
