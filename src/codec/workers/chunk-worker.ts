/**
 * Worker-thread side of the chunk pool: receives encode/decode jobs, runs them with jobs.ts and
 * posts results back (buffers transferred, not copied). Errors travel as {code, category, message}.
 * A decode job may name a sink (an unpack sink worker, sink.ts, connected with an `attach` message
 * carrying a MessagePort): its result then goes to the sink, and the parent hears only that the job is
 * done; memory the sink has written out comes back over the same port for later results.
 * The same entry runs the sink itself when started with workerData `{ role: 'sink' }`.
 * Touches nothing but its message ports (the sink writes its one output file).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { McdnError } from '../../errors.ts';
import { runDecode, runEncode, type Job } from '../jobs.ts';
import { donateBuffers } from '../planes.ts';
import { runSinkWorker } from './sink.ts';

type Msg = { id: number; job: Job; donate?: ArrayBuffer[]; sink?: number } | { attach: number; port: MessagePort } | { detach: number };

if ((workerData as { role?: string } | undefined)?.role === 'sink') runSinkWorker(parentPort!);
else {
  const sinks = new Map<number, MessagePort>();
  parentPort!.on('message', (msg: Msg) => {
    if ('attach' in msg) {
      sinks.set(msg.attach, msg.port);
      msg.port.on('message', (m: { donate?: ArrayBuffer[] }) => m.donate && donateBuffers(m.donate));
      msg.port.on('close', () => sinks.get(msg.attach) === msg.port && sinks.delete(msg.attach));
      return;
    }
    if ('detach' in msg) {
      sinks.get(msg.detach)?.close();
      sinks.delete(msg.detach);
      return;
    }
    if (msg.donate) donateBuffers(msg.donate);
    try {
      if (msg.job.op === 'encode') {
        const r = runEncode(msg.job);
        const transfer = r.payload.buffer === msg.job.raw.buffer ? [] : [r.payload.buffer as ArrayBuffer];
        parentPort!.postMessage({ id: msg.id, ok: true, result: r }, transfer);
        return;
      }
      const raw = runDecode(msg.job);
      // the payload's memory goes back too (the caller may reuse it for the next payload)
      const payload = msg.job.payload.buffer as ArrayBuffer;
      const own = raw.buffer === payload;
      if (msg.sink !== undefined) {
        const port = sinks.get(msg.sink);
        if (!port) throw new McdnError('INTERNAL', 'internal', `no sink ${msg.sink} attached to this worker`);
        port.postMessage({ index: msg.job.index, raw }, [raw.buffer as ArrayBuffer]);
        parentPort!.postMessage({ id: msg.id, ok: true, ...(own ? {} : { payload }) }, own ? [] : [payload]);
        return;
      }
      parentPort!.postMessage({ id: msg.id, ok: true, result: raw, ...(own ? {} : { payload }) }, own ? [] : [raw.buffer as ArrayBuffer, payload]);
    } catch (e) {
      const err = e instanceof McdnError ? e : new McdnError('INTERNAL', 'internal', String((e as Error)?.stack ?? e));
      parentPort!.postMessage({ id: msg.id, ok: false, error: { code: err.code, category: err.category, message: err.message, details: err.details } });
    }
  });
}
