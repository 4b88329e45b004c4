/**
 * A response body received into aligned ring blocks and written with O_DIRECT (see
 * util/direct-io.ts), for large downloads. With the raw fetcher the socket reads land in the block
 * being filled (`BodyStream.readInto`), so no byte is copied between the kernel and the disk write;
 * other bodies (node:http, a server that ignored Range, the bytes that came with the response head)
 * are copied in. Each segment writes its blocks in order, one writev of everything queued at a time,
 * so the caller's count of bytes on disk only ever grows by whole blocks (4 KiB units at an early end).
 */
import type { FileHandle } from 'node:fs/promises';
import { McdnError, fromSystemError } from '../../errors.ts';
import { skipper } from '../http/body.ts';
import { alignDown, alignUp, DIRECT_BLOCK, writevAll, type BlockRing, type RingBlock } from '../../util/direct-io.ts';
import { releaseReadBuffer, type BodyStream } from '../http/raw-fetch.ts';

/** The file system refused a direct write after the open: the caller goes on through the page cache. */
export class DirectIoRefused extends Error {}

export interface DirectBodyOptions {
  ring: BlockRing;
  /** the O_DIRECT handle */
  fh: FileHandle;
  /** file offset of the first byte taken (aligned) */
  pos: number;
  /** take at most this many bytes (after the skip) */
  maxLen: number;
  /** bytes to drop first (a server that ignored Range) */
  skip: number;
  /** the whole file's size: a block ending there is written padded and counted whole */
  size: number;
  /** free blocks this body must leave to others before it may take one (asked again as blocks free up) */
  reserve: () => number;
  /** false: count blocks as written without writing them (the caller keeps no resume state any more) */
  persist?: () => boolean;
  /** bytes now on disk, in order, with the block views holding them (the callee owns the blocks) */
  onWritten: (n: number, views: Buffer[], blocks: RingBlock[]) => void;
}

/**
 * Receive `res` into ring blocks and write them. Resolves when the body ended or broke off and every
 * whole block is on disk (the caller checks how much arrived); rejects on a write error
 * (DirectIoRefused for EINVAL) or when the ring is aborted.
 */
export function receiveDirect(res: BodyStream, o: DirectBodyOptions): Promise<void> {
  const { ring, fh, size } = o;
  const skip = skipper(o.skip);
  let taken = 0; // bytes accepted into blocks
  let pos = o.pos; // file offset of cur's first byte
  let cur: RingBlock | undefined;
  let fill = 0;
  let waitingBlock = false;
  let ended = false;
  let settled = false;
  // blocks full (or final) and not yet written, in file order
  const queue: { block: RingBlock; count: number; at: number }[] = [];
  let writing = false;
  const held: Buffer[] = []; // copied-path chunks waiting for a block

  return new Promise<void>((resolve, reject) => {
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      res.readInto = undefined;
      res.destroy();
      if (cur) ring.give(cur);
      cur = undefined;
      for (const q of queue.splice(0)) ring.give(q.block);
      reject(e);
    };
    const maybeDone = () => {
      if (settled || !ended || writing || queue.length > 0 || held.length > 0 || waitingBlock) return;
      settled = true;
      resolve();
    };
    const writeNext = () => {
      if (writing || settled || queue.length === 0) return;
      const batch = queue.splice(0);
      writing = true;
      const at = batch[0]!.at;
      const bufs = batch.map((q) => q.block.bytes.subarray(0, alignUp(q.count)));
      // blocks the caller no longer keeps on disk (resume state on a fast link) are only counted
      (o.persist?.() === false ? Promise.resolve() : writevAll(fh, bufs, at)).then(
        () => {
          writing = false;
          if (settled) {
            for (const q of batch) ring.give(q.block);
            return;
          }
          const views = batch.map((q) => q.block.bytes.subarray(0, q.count));
          o.onWritten(
            batch.reduce((a, q) => a + q.count, 0),
            views,
            batch.map((q) => q.block),
          );
          writeNext();
          maybeDone();
        },
        (e: NodeJS.ErrnoException) => {
          writing = false;
          for (const q of batch) ring.give(q.block);
          fail(e.code === 'EINVAL' ? new DirectIoRefused(`O_DIRECT write refused: ${e.message}`) : fromSystemError(e, 'download part file'));
        },
      );
    };
    /** close the current block: whole 4 KiB units, or everything at the end of the file */
    const seal = () => {
      const b = cur!;
      cur = undefined;
      const count = pos + fill === size ? fill : alignDown(fill);
      fill = 0;
      if (count === 0) return ring.give(b);
      queue.push({ block: b, count, at: pos });
      pos += count;
      writeNext();
    };
    const getBlock = (): void => {
      if (cur || waitingBlock || settled) return;
      // at once if one is free, so the next socket read can land in it
      const now = ring.tryTake(o.reserve());
      if (now) {
        cur = now;
        fill = 0;
        return drainHeld();
      }
      waitingBlock = true;
      res.pause();
      ring.take(o.reserve).then(
        (b) => {
          waitingBlock = false;
          if (settled) return ring.give(b);
          cur = b;
          fill = 0;
          drainHeld();
          if (!settled && !ended && held.length === 0) res.resume();
          maybeDone();
        },
        (e) => fail(e),
      );
    };
    /** copy chunks that did not land in a block */
    const drainHeld = (): void => {
      while (held.length > 0 && !settled) {
        if (!cur) return getBlock();
        const c = held[0]!;
        const n = Math.min(DIRECT_BLOCK - fill, c.length);
        c.copy(cur.bytes, fill, 0, n);
        fill += n;
        if (n === c.length) {
          held.shift();
          releaseReadBuffer(c);
        } else held[0] = c.subarray(n);
        if (fill === DIRECT_BLOCK) seal();
      }
      if (ended && cur && held.length === 0) {
        if (fill > 0) seal();
        else {
          ring.give(cur);
          cur = undefined;
        }
      }
    };
    res.readInto = () => (cur && fill < DIRECT_BLOCK && held.length === 0 && taken < o.maxLen ? cur.bytes.subarray(fill, Math.min(DIRECT_BLOCK, fill + o.maxLen - taken)) : undefined);
    res.on('data', (raw: Buffer) => {
      if (settled || ended) return;
      let c = skip(raw);
      if (!c) return;
      if (taken + c.length > o.maxLen) c = c.subarray(0, o.maxLen - taken);
      taken += c.length;
      if (cur && held.length === 0 && c.buffer === ring.memory && c.byteOffset === cur.bytes.byteOffset + fill) {
        // landed in place
        fill += c.length;
        if (fill === DIRECT_BLOCK) seal(); // the next block is taken below, unless the body is complete
      } else if (c.length > 0) {
        held.push(c);
        drainHeld();
      }
      if (taken >= o.maxLen) {
        ended = true;
        res.readInto = undefined;
        res.destroy(); // everything wanted arrived: a reset from here on is not a failure
        drainHeld();
      } else if (!cur && !settled) getBlock();
      maybeDone();
    });
    const stop = () => {
      if (ended) return;
      ended = true;
      res.readInto = undefined;
      drainHeld();
      maybeDone();
    };
    res.on('end', stop);
    res.on('error', stop);
    res.on('close', stop);
    getBlock();
  }).catch((e: unknown) => {
    throw e instanceof McdnError || e instanceof DirectIoRefused ? e : new McdnError('DOWNLOAD_INTERRUPTED', 'network', `download interrupted: ${(e as Error)?.message ?? e}`, { cause: e });
  });
}
