/**
 * Worker-thread side of the chunk pool: receives encode/decode jobs, runs them with jobs.ts and
 * posts results back (buffers transferred, not copied). Errors travel as {code, category, message}.
 * Touches nothing but its message port.
 */
import { parentPort } from 'node:worker_threads';
import { McdnError } from '../../errors.ts';
import { runDecode, runEncode, type Job } from '../jobs.ts';
import { donateBuffers } from '../planes.ts';

parentPort!.on('message', (msg: { id: number; job: Job; donate?: ArrayBuffer[] }) => {
  if (msg.donate) donateBuffers(msg.donate);
  try {
    if (msg.job.op === 'encode') {
      const r = runEncode(msg.job);
      const transfer = r.payload.buffer === msg.job.raw.buffer ? [] : [r.payload.buffer as ArrayBuffer];
      parentPort!.postMessage({ id: msg.id, ok: true, result: r }, transfer);
    } else {
      const raw = runDecode(msg.job);
      // the payload's memory goes back too (the caller may reuse it for the next payload)
      const payload = msg.job.payload.buffer as ArrayBuffer;
      const own = raw.buffer === payload;
      parentPort!.postMessage({ id: msg.id, ok: true, result: raw, ...(own ? {} : { payload }) }, own ? [] : [raw.buffer as ArrayBuffer, payload]);
    }
  } catch (e) {
    const err = e instanceof McdnError ? e : new McdnError('INTERNAL', 'internal', String((e as Error)?.stack ?? e));
    parentPort!.postMessage({ id: msg.id, ok: false, error: { code: err.code, category: err.category, message: err.message, details: err.details } });
  }
});
