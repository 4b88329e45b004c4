/**
 * Decoding .mcz: `unpackBytes` is the slow reference decoder in spec order (the oracle for tests);
 * `MczParser` is the incremental parser (bytes in, header and chunk payloads out, in any piece
 * sizes); `createUnpackStream` decodes while bytes arrive, verifying every chunk's sha256 and, at
 * the end, the whole file's; `unpackFile` writes a temp file and renames it only after the whole
 * file's sha256 matched (it checks each chunk's CRC but not its sha256: the file hash covers it);
 * `extractTensor` reads only the chunks a tensor lives in. Writes nothing but the one output path.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { McdnError, fromSystemError } from '../errors.ts';
import { concat } from './chunk.ts';
import { decodeHeader, payloadOffsets, readHeaderLength, MCZ_PREAMBLE_BYTES, type MczChunkEntry, type MczHeader } from './format.ts';
import { checkRef, runDecode, type DecodeJob } from './jobs.ts';
import { METHOD_REF } from './chunk.ts';
import { AtomicFile } from './atomic-file.ts';
import { sharedPool, POOL_MIN_BYTES, type ChunkPool } from './workers/pool.ts';
import { uninitialized } from './planes.ts';
import { genericDecompressStream, HashTap, sniffGeneric } from './generic.ts';
import { createBlobHasher, type BlobHasher } from '../util/hash-worker.ts';
import { DIRECT_MIN_BYTES, FileWriter } from '../util/direct-io.ts';
import { UnpackSink } from './workers/sink-client.ts';

const INFLIGHT_PER_WORKER = 3;

function truncated(msg: string, details: Record<string, unknown> = {}): McdnError {
  return new McdnError('MCZ_TRUNCATED', 'input', msg, { details });
}

function decodeJob(h: MczHeader, i: number, payload: Uint8Array, verifyHash = true): DecodeJob {
  const c = h.chunks[i]!;
  return { op: 'decode', payload, method: c.method, width: c.width, rawLength: c.rawLength, sha256: c.sha256, crc32: c.crc32, index: i, verifyHash };
}

/** Reference decoder: whole container in memory, every check in spec order. */
export function unpackBytes(mcz: Uint8Array): Uint8Array {
  const pre = mcz.subarray(0, MCZ_PREAMBLE_BYTES);
  const len = readHeaderLength(pre);
  if (mcz.byteLength < len) throw truncated(`file ends inside the header (${mcz.byteLength} of ${len} bytes)`);
  const h = decodeHeader(mcz.subarray(0, len));
  const out = new Uint8Array(h.originalSize);
  const offs = payloadOffsets(h);
  h.chunks.forEach((c, i) => {
    const at = offs[i]!;
    if (at + c.packedLength > mcz.byteLength) throw truncated(`file ends in chunk ${i} of ${h.chunks.length}`, { chunk: i });
    const payload = mcz.subarray(at, at + c.packedLength);
    if (c.method === METHOD_REF) {
      const t = h.chunks[checkRef(payload, c.crc32, c.ref, i)]!;
      out.copyWithin(c.offset, t.offset, t.offset + t.rawLength);
    } else {
      out.set(runDecode(decodeJob(h, i, payload)), c.offset);
    }
  });
  const end = offs.length ? offs[offs.length - 1]! + h.chunks[h.chunks.length - 1]!.packedLength : h.headerLength;
  if (mcz.byteLength !== end) throw new McdnError('MCZ_TRAILING_DATA', 'input', `${mcz.byteLength - end} unexpected bytes after the last chunk`);
  if (createHash('sha256').update(out).digest('hex') !== h.sha256) throw new McdnError('MCZ_FILE_HASH_MISMATCH', 'integrity', 'decoded file sha256 does not match the header');
  return out;
}

export type ParsedItem = { kind: 'header'; header: MczHeader } | { kind: 'chunk'; index: number; entry: MczChunkEntry; payload: Uint8Array };

/**
 * Incremental parser: push bytes in pieces of any size, pull items as soon as they are complete.
 * Chunk payloads are assembled by copying: once `next()` has returned undefined after the header,
 * the parser holds no reference to any pushed piece (`holdsInput` is false), so a caller may reuse
 * their memory.
 */
export class MczParser {
  private pieces: Uint8Array[] = [];
  private buffered = 0;
  private headerLength = -1;
  header: MczHeader | undefined;
  private nextChunk = 0;
  /** the payload being assembled */
  private asm: { buf: Uint8Array; have: number } | undefined;
  /** bytes consumed so far */
  consumed = 0;

  push(b: Uint8Array): void {
    if (b.byteLength === 0) return;
    this.pieces.push(b);
    this.buffered += b.byteLength;
  }

  /** true while pushed pieces are still referenced (header not complete, or next() not yet called) */
  get holdsInput(): boolean {
    return this.pieces.length > 0;
  }

  private take(n: number): Uint8Array {
    let out: Uint8Array;
    const first = this.pieces[0]!;
    if (first.byteLength >= n) {
      out = first.subarray(0, n);
      if (first.byteLength === n) this.pieces.shift();
      else this.pieces[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      this.copyInto(out, 0, n);
    }
    this.buffered -= n;
    this.consumed += n;
    return out;
  }

  /** Move `n` buffered bytes into `dst` at `at`, dropping the pieces they came from (the caller counts them). */
  private copyInto(dst: Uint8Array, at: number, n: number): void {
    let o = 0;
    while (o < n) {
      const p = this.pieces[0]!;
      const k = Math.min(p.byteLength, n - o);
      dst.set(k === p.byteLength ? p : p.subarray(0, k), at + o);
      o += k;
      if (k === p.byteLength) this.pieces.shift();
      else this.pieces[0] = p.subarray(k);
    }
  }

  private peek(n: number): Uint8Array {
    const out = this.take(n);
    this.pieces.unshift(out);
    this.buffered += n;
    this.consumed -= n;
    return out;
  }

  /** The next complete item, or undefined if more bytes are needed. */
  next(): ParsedItem | undefined {
    if (!this.header) {
      if (this.headerLength < 0) {
        if (this.buffered < MCZ_PREAMBLE_BYTES) return undefined;
        this.headerLength = readHeaderLength(new Uint8Array(this.peek(MCZ_PREAMBLE_BYTES)));
      }
      if (this.buffered < this.headerLength) return undefined;
      // a copy (not .slice(): on a Buffer that is a view): the header must not keep views of the caller's reusable pieces
      this.header = decodeHeader(new Uint8Array(this.take(this.headerLength)));
      return { kind: 'header', header: this.header };
    }
    const i = this.nextChunk;
    const entry = this.header.chunks[i];
    if (!entry) {
      if (this.buffered > 0) throw new McdnError('MCZ_TRAILING_DATA', 'input', `unexpected bytes after the last chunk`);
      return undefined;
    }
    // the payload owns its memory (it may be transferred to a worker): bytes are copied into it as they arrive
    this.asm ??= { buf: takePayloadBuffer(entry.packedLength), have: 0 };
    const a = this.asm;
    const k = Math.min(this.buffered, entry.packedLength - a.have);
    if (k > 0) {
      this.copyInto(a.buf, a.have, k);
      this.buffered -= k;
      this.consumed += k;
      a.have += k;
    }
    if (a.have < entry.packedLength) return undefined;
    this.asm = undefined;
    this.nextChunk++;
    return { kind: 'chunk', index: i, entry, payload: a.buf };
  }

  /** Call at end of input: throws if the container is incomplete. */
  finish(): void {
    if (!this.header) throw truncated(`file ends inside the header (${this.consumed + this.buffered} bytes)`);
    if (this.nextChunk < this.header.chunks.length) {
      throw truncated(`file ends in chunk ${this.nextChunk} of ${this.header.chunks.length}`, { chunk: this.nextChunk });
    }
    if (this.buffered > 0) throw new McdnError('MCZ_TRAILING_DATA', 'input', `${this.buffered} unexpected bytes after the last chunk`);
  }
}

export interface UnpackStreamOptions {
  /** false = decode on this thread; a pool = use it; default: shared pool for files ≥ 16 MiB */
  pool?: ChunkPool | false;
  /**
   * Called with each written piece once the stream holds no reference to it any more (its bytes
   * were copied into chunk payloads): the writer may reuse that memory.
   */
  onConsumed?: (piece: Buffer) => void;
  /**
   * false skips each chunk's sha256 (CRC-32 and lengths are still checked per chunk) and relies on
   * the whole-file sha256 checked at the end: for callers that expose the output only after the
   * stream finished without error (unpackFile renames its temp file then). Default true: every
   * chunk is verified before it is emitted, for consumers that use bytes as they arrive.
   */
  chunkHashes?: boolean;
  /**
   * Write the decoded file to `path` (created or truncated; with O_DIRECT where the file system
   * takes it if `direct`, which defaults to files of DIRECT_MIN_BYTES and more) instead of emitting
   * it: the stream's readable side then ends empty, and 'finish' means every byte is written, the
   * file closed and its sha256 checked against the header. With a worker pool the chunks go from the chunk workers to a sink worker that hashes and
   * writes them (workers/sink.ts), so the decoded bytes never pass through this thread.
   */
  output?: { path: string; direct?: boolean };
}

/** Payload memory handed back by chunk workers, for the next payloads (at most PAYLOAD_SPARES). */
const payloadSpares: ArrayBuffer[] = [];
const PAYLOAD_SPARES = 16;

/** Memory for a payload of `n` bytes (not zero-filled: the parser copies every byte in). */
function takePayloadBuffer(n: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < payloadSpares.length; i++) {
    const l = payloadSpares[i]!.byteLength;
    if (l >= n && l <= 2 * n + 65536 && (best < 0 || l < payloadSpares[best]!.byteLength)) best = i;
  }
  if (best >= 0) return new Uint8Array(payloadSpares.splice(best, 1)[0]!, 0, n);
  return uninitialized(n);
}

function givePayloadBuffer(ab: ArrayBuffer): void {
  if (payloadSpares.length >= PAYLOAD_SPARES) payloadSpares.shift();
  payloadSpares.push(ab);
}

/** Decoded chunks given back by the consumer, sent to the workers with the next jobs (at most this many held). */
const MAX_DONATIONS = 8;

/** A Transform: .mcz bytes in, original bytes out in order; emits 'header' (MczHeader) first. */
export class UnpackStream extends Transform {
  private readonly parser = new MczParser();
  /** pieces written but not yet handed to onConsumed */
  private held: Buffer[] = [];
  private readonly queue: { p: Promise<Uint8Array | number>; recyclable: boolean }[] = [];
  /** emitted chunks the consumer may give back with recycle() (not repeated by a REF chunk) */
  private readonly recyclable = new WeakSet<ArrayBuffer>(); // by memory: push() hands consumers a Buffer view, not our object
  private donations: ArrayBuffer[] = [];
  /** chunks taken back by recycle() */
  recycled = 0;
  /** sha256 of the whole output: on a worker thread for large files (created with the header) */
  private fileHash: BlobHasher | undefined;
  private pool: ChunkPool | undefined;
  /** output mode: the sink worker (with a pool) or this thread's writer */
  private sink: UnpackSink | undefined;
  private writer: FileWriter | undefined;
  private maxInflight = 1;
  /** decoded chunks that a later REF chunk repeats, until their last use */
  private readonly retained = new Map<number, Promise<Uint8Array | number>>();
  private lastUse = new Map<number, number>();
  produced = 0;
  header: MczHeader | undefined;

  constructor(private readonly opts: UnpackStreamOptions = {}) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const release = this.opts.onConsumed;
    if (release) this.held.push(chunk);
    this.drainParser().then(() => {
      if (release && !this.parser.holdsInput) {
        for (const b of this.held) release(b);
        this.held = [];
      }
      cb();
    }, (e) => cb(e));
  }

  override _flush(cb: TransformCallback): void {
    (async () => {
      await this.drainParser();
      while (this.queue.length) await this.emitOne();
      this.parser.finish();
      const h = this.header!;
      // in output mode with a pool the sink reports what it hashed and wrote; else this thread did
      let written = { sha256: '', size: this.produced };
      if (this.sink) {
        written = await this.sink.finish();
        this.sink = undefined;
      } else {
        await this.writer?.close();
        this.writer = undefined;
        written.sha256 = await this.fileHash!.digest();
      }
      if (this.produced !== h.originalSize || written.size !== h.originalSize || written.sha256 !== h.sha256) {
        throw new McdnError('MCZ_FILE_HASH_MISMATCH', 'integrity', 'decoded file sha256 does not match the header');
      }
    })().then(() => cb(), (e) => cb(e));
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.fileHash?.dispose();
    const sink = this.sink;
    const writer = this.writer;
    this.sink = this.writer = undefined;
    // the output file is closed before the stream reports its end (the caller removes it)
    Promise.all([sink?.abort(), writer?.abort()]).then(() => cb(err), () => cb(err));
  }

  private async drainParser(): Promise<void> {
    for (let item = this.parser.next(); item; item = this.parser.next()) {
      if (item.kind === 'header') {
        const h = item.header;
        this.header = h;
        if (this.opts.pool !== false) {
          this.pool = this.opts.pool ?? (h.originalSize >= POOL_MIN_BYTES ? sharedPool() : undefined);
        }
        this.maxInflight = this.pool ? this.pool.size * INFLIGHT_PER_WORKER : 1;
        h.chunks.forEach((c, i) => c.ref !== undefined && this.lastUse.set(c.ref, i));
        this.emit('header', h);
        if (this.destroyed) return;
        const out = this.opts.output;
        const direct = out?.direct ?? h.originalSize >= DIRECT_MIN_BYTES;
        if (out && this.pool) {
          this.sink = new UnpackSink(this.pool, out.path, direct, Int32Array.from(h.chunks, (c) => (c.method === METHOD_REF ? (c.ref ?? -1) : -1)));
        } else {
          this.fileHash = createBlobHasher(h.originalSize);
          if (out) this.writer = await FileWriter.create(out.path, direct);
        }
        continue;
      }
      let p: Promise<Uint8Array | number>;
      const i = item.index;
      let recyclable = false;
      if (this.sink) {
        // the sink hashes and writes the chunk (and repeats REF chunks itself): wait until it has
        const sink = this.sink;
        const n = item.entry.rawLength;
        if (item.entry.method === METHOD_REF) {
          checkRef(item.payload, item.entry.crc32, item.entry.ref, i);
          p = sink.written(i).then(() => n);
        } else {
          const job = decodeJob(this.header!, i, item.payload, this.opts.chunkHashes !== false);
          const sent = this.pool!.decodeTo(job, sink.key).then((r) => r.payload && givePayloadBuffer(r.payload));
          p = Promise.all([sent, sink.written(i)]).then(() => n);
        }
      } else if (item.entry.method === METHOD_REF) {
        const target = checkRef(item.payload, item.entry.crc32, item.entry.ref, i);
        p = this.retained.get(target)!;
        if (this.lastUse.get(target) === i) this.retained.delete(target);
      } else {
        const job = decodeJob(this.header!, i, item.payload, this.opts.chunkHashes !== false);
        if (this.pool) {
          const donate = this.donations;
          this.donations = [];
          p = this.pool.decodeRecycling(job, donate).then((r) => {
            if (r.payload) givePayloadBuffer(r.payload);
            return r.raw;
          });
        } else p = Promise.resolve().then(() => runDecode(job));
        if (this.lastUse.has(i)) this.retained.set(i, p);
        else recyclable = this.pool !== undefined;
      }
      p.catch(() => {}); // awaited in order by emitOne
      this.queue.push({ p, recyclable });
      while (this.queue.length >= this.maxInflight) await this.emitOne();
    }
  }

  private async emitOne(): Promise<void> {
    const q = this.queue.shift()!;
    const raw = await q.p;
    if (typeof raw === 'number') {
      this.produced += raw; // written by the sink
      return;
    }
    this.fileHash!.update(raw);
    this.produced += raw.byteLength;
    if (this.writer) {
      await this.writer.write(raw);
      return;
    }
    if (q.recyclable && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength) this.recyclable.add(raw.buffer as ArrayBuffer);
    this.push(raw);
  }

  /**
   * Give back an emitted chunk the consumer has finished with (written out; no view of it kept):
   * its memory goes to a chunk worker to decode a later chunk into. Chunks that may not be reused
   * (repeated by a REF chunk, decoded on this thread) and second calls are ignored.
   */
  recycle(chunk: Uint8Array): void {
    if (chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength || !this.recyclable.delete(chunk.buffer as ArrayBuffer)) return;
    this.recycled++;
    if (this.donations.length < MAX_DONATIONS) this.donations.push(chunk.buffer as ArrayBuffer);
  }
}

export function createUnpackStream(opts: UnpackStreamOptions = {}): UnpackStream {
  return new UnpackStream(opts);
}

/** Prefix an error's message with the file it concerns (same code and category). */
export function namedError(e: unknown, path: string): McdnError {
  if ((e as Error)?.name === 'AbortError') return new McdnError('CANCELLED', 'cancelled', `${path}: cancelled`, { cause: e });
  if (e instanceof McdnError) {
    if (e.message.startsWith(path)) return e;
    return new McdnError(e.code, e.category, `${path}: ${e.message}`, { details: e.details, ...(e.remedy ? { remedy: e.remedy } : {}), cause: e });
  }
  return fromSystemError(e, path);
}

export interface UnpackResult {
  sha256: string;
  size: number;
  /** 'mcz' or the generic codec that was decoded */
  codec: string;
}

/** Decode a .mcz (or a .zst/.gz/.br) file to `outPath`, byte-identical, verified before the rename. */
export async function unpackFile(inPath: string, outPath: string, opts: UnpackStreamOptions & { onProgress?: (done: number, total: number) => void; signal?: AbortSignal; durable?: boolean } = {}): Promise<UnpackResult> {
  let fh: FileHandle;
  let head = new Uint8Array(MCZ_PREAMBLE_BYTES);
  let total: number;
  try {
    fh = await open(inPath, 'r');
    total = (await fh.stat()).size;
    const { bytesRead } = await fh.read(head, 0, head.byteLength, 0);
    head = head.subarray(0, bytesRead);
    await fh.close();
  } catch (e) {
    throw fromSystemError(e, inPath);
  }
  const generic = sniffGeneric(head, inPath);
  const out = await AtomicFile.create(outPath);
  try {
    if (generic) {
      const tap = new HashTap();
      await pipeline(createReadStream(inPath), genericDecompressStream(generic), tap, createWriteStream(out.tmpPath, { flags: 'r+' }), ...(opts.signal ? [{ signal: opts.signal }] : []));
      await out.commit(opts.durable ?? true);
      return { sha256: tap.hash.digest('hex'), size: tap.bytes, codec: generic };
    }
    // the temp file is renamed only after the whole-file sha256 matched the header, so hashing each
    // chunk as well would check the same bytes twice (the slowest part of decoding after zstd)
    // the decoder writes the temp file itself: with worker threads, decoded chunks go from the chunk
    // workers to a sink thread that hashes and writes them (workers/sink.ts)
    const dec = createUnpackStream({ chunkHashes: false, ...opts, output: { path: out.tmpPath } });
    let read = 0;
    const src = createReadStream(inPath, { highWaterMark: 1 << 20 });
    src.on('data', (b) => {
      read += b.length;
      opts.onProgress?.(read, total);
    });
    await pipeline(src, dec, new Writable({ write: (_c, _e, cb) => cb() }), ...(opts.signal ? [{ signal: opts.signal }] : []));
    await out.commit(opts.durable ?? true);
    return { sha256: dec.header!.sha256, size: dec.produced, codec: 'mcz' };
  } catch (e) {
    await out.abort();
    throw namedError(e, inPath);
  }
}

/** Read and validate the header of an .mcz file (reads only the header bytes). */
export async function readMczHeader(path: string): Promise<MczHeader> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    return await readHeaderFrom(fh);
  } catch (e) {
    throw namedError(e, path);
  } finally {
    await fh?.close();
  }
}

async function readHeaderFrom(fh: FileHandle): Promise<MczHeader> {
  const pre = await readAt(fh, 0, MCZ_PREAMBLE_BYTES);
  const len = readHeaderLength(pre);
  return decodeHeader(await readAt(fh, 0, len));
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) throw truncated(`file ends at ${offset + got}, expected at least ${offset + length} bytes`);
    got += bytesRead;
  }
  return buf;
}

/** The bytes of one tensor, decoding only the chunks that hold it (each verified by sha256). */
export async function extractTensor(mczPath: string, name: string): Promise<Uint8Array> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(mczPath, 'r');
    const h = await readHeaderFrom(fh);
    const t = h.layout.tensors.find((x) => x.name === name);
    if (!t) {
      throw new McdnError('MCZ_TENSOR_NOT_FOUND', 'not_found', `no tensor named ${JSON.stringify(name)} (the file lists ${h.layout.tensors.length} tensors)`, {
        remedy: 'run `modelcdn inspect` on the original to list tensor names',
      });
    }
    const out = new Uint8Array(t.length);
    const offs = payloadOffsets(h);
    const end = t.offset + t.length;
    for (let i = 0; i < h.chunks.length; i++) {
      const c = h.chunks[i]!;
      if (c.offset + c.rawLength <= t.offset || c.offset >= end || t.length === 0) continue;
      let src = i;
      if (c.method === METHOD_REF) src = checkRef(await readAt(fh, offs[i]!, c.packedLength), c.crc32, c.ref, i);
      const raw = runDecode(decodeJob(h, src, await readAt(fh, offs[src]!, h.chunks[src]!.packedLength)));
      const from = Math.max(t.offset, c.offset);
      const to = Math.min(end, c.offset + c.rawLength);
      out.set(raw.subarray(from - c.offset, to - c.offset), from - t.offset);
    }
    return out;
  } catch (e) {
    throw namedError(e, mczPath);
  } finally {
    await fh?.close();
  }
}

export { concat };
