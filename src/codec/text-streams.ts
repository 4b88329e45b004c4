/**
 * The TEXT chunk method (docs/spec/mcz.md §5.1): an XMill-style split of text such as JSON model
 * manifests. A lossless tokenizer over arbitrary bytes (not a JSON parser) moves string values and
 * numbers into one stream per preceding key, leaves the skeleton (keys, punctuation, whitespace,
 * anything else) with a one-byte stream id where each value was, and compresses skeleton + streams
 * as one brotli stream. Values of the same key sit together, so brotli's matches and context
 * models see "all dtypes", "all shapes", "all names" in a row. Any input round-trips byte for byte;
 * the packer only keeps this method when it is the smallest. Pure functions, no I/O.
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { McdnError } from '../errors.ts';
import { ByteWriter, Reader } from './chunk.ts';

/** Escape byte in the skeleton: the next byte is literal. */
export const TEXT_ESC = 0x00;
/** Skeleton bytes that stand for "the next value of stream k": every byte < 0x20 except ESC, TAB, LF, CR. */
export const TEXT_STREAM_IDS: readonly number[] = Array.from({ length: 0x20 }, (_, b) => b).filter((b) => b !== TEXT_ESC && b !== 0x09 && b !== 0x0a && b !== 0x0d);
/** Most value streams a payload may have (one id byte each). */
export const MAX_TEXT_STREAMS = TEXT_STREAM_IDS.length; // 28
/** Values are terminated by LF inside their stream; a string value never contains a byte < 0x20. */
const VALUE_END = 0x0a;
/** Longest string (including quotes) moved into a stream; longer ones stay in the skeleton. */
export const MAX_TEXT_VALUE_BYTES = 64 * 1024;
/** Brotli quality for the joined streams. */
export const TEXT_BROTLI_QUALITY = 11;

const KIND_NUMBER = 0;
const KIND_STRING = 1;
/** a number stream stored as byte planes of big-endian IEEE-754 doubles (spec §5.1) */
const KIND_DOUBLES = 2;
/**
 * A number stream becomes KIND_DOUBLES when every value is the ECMAScript shortest form of its
 * double and the values average at least this many characters: long decimals such as quantization
 * scales (0.0026856216729856004) take ~7.5 brotli'd bytes as digits and ~5 as double planes.
 */
export const DOUBLES_MIN_AVG_CHARS = 10;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}
function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
/** letters, digits, '_', '.', and bytes ≥ 0x80: a number glued to these is part of a word, not a value */
function isWordByte(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2e || b >= 0x80;
}

const idOf = new Int16Array(256).fill(-1);
TEXT_STREAM_IDS.forEach((b, i) => (idOf[b] = i));

/**
 * End (exclusive, after the closing quote) of a string starting at `p` (a quote), or -1 when it is
 * not a movable value: unterminated, longer than MAX_TEXT_VALUE_BYTES, or holding a byte < 0x20.
 */
function stringEnd(s: Uint8Array, p: number): number {
  const limit = Math.min(s.byteLength, p + MAX_TEXT_VALUE_BYTES);
  for (let i = p + 1; i < limit; i++) {
    const b = s[i]!;
    if (b === QUOTE) return i + 1;
    if (b < 0x20) return -1;
    if (b === BACKSLASH && (s[++i] ?? 0) < 0x20) return -1; // the escaped byte belongs to the string
  }
  return -1;
}

/** End of a JSON-like number starting at `p` (`-?digits(.digits)?([eE][+-]?digits)?`), or -1. */
function numberEnd(s: Uint8Array, p: number): number {
  let i = p;
  if (s[i] === 0x2d) i++;
  const d0 = i;
  while (i < s.byteLength && isDigit(s[i]!)) i++;
  if (i === d0) return -1;
  if (s[i] === 0x2e && isDigit(s[i + 1] ?? 0)) {
    i++;
    while (i < s.byteLength && isDigit(s[i]!)) i++;
  }
  if ((s[i] === 0x65 || s[i] === 0x45) && (isDigit(s[i + 1] ?? 0) || ((s[i + 1] === 0x2b || s[i + 1] === 0x2d) && isDigit(s[i + 2] ?? 0)))) {
    i += 2;
    while (i < s.byteLength && isDigit(s[i]!)) i++;
  }
  if (i < s.byteLength && isWordByte(s[i]!)) return -1; // "12abc", "1.2.3": not a number token
  return i;
}

export interface TextSplit {
  skeleton: Uint8Array;
  streams: { kind: number; data: Uint8Array }[];
}

/** Split `raw` into a skeleton and value streams (the transform of spec §5.1, before brotli). */
export function splitText(raw: Uint8Array): TextSplit {
  const skel = new ByteWriter(raw.byteLength);
  const streams: { kind: number; out: ByteWriter }[] = [];
  const streamOf = new Map<string, number>();
  const dec = new TextDecoder('latin1');
  let ctx = '';
  const stream = (kind: number): number => {
    const key = kind + ctx;
    let id = streamOf.get(key);
    if (id === undefined) {
      // the last id is shared by every context that comes after the others are taken
      id = streams.length < MAX_TEXT_STREAMS ? streams.length : MAX_TEXT_STREAMS - 1;
      if (id === streams.length) streams.push({ kind, out: new ByteWriter(1024) });
      else if (streams[id]!.kind !== kind) return -1; // the shared stream holds the other kind: keep literal
      streamOf.set(key, id);
    }
    return id;
  };
  const n = raw.byteLength;
  let p = 0;
  while (p < n) {
    const b = raw[p]!;
    if (b === QUOTE) {
      const e = stringEnd(raw, p);
      if (e > 0) {
        let q = e;
        while (q < n && isSpace(raw[q]!)) q++;
        if (q < n && raw[q] === COLON) {
          ctx = dec.decode(raw.subarray(p + 1, e - 1)); // a key: stays in the skeleton, names the next values
          skel.append(raw, p, e);
          p = e;
          continue;
        }
        const id = stream(KIND_STRING);
        if (id >= 0) {
          skel.u8(TEXT_STREAM_IDS[id]!);
          const out = streams[id]!.out;
          out.append(raw, p + 1, e - 1);
          out.u8(VALUE_END);
          p = e;
          continue;
        }
      }
    } else if ((isDigit(b) || b === 0x2d) && (p === 0 || !isWordByte(raw[p - 1]!))) {
      const e = numberEnd(raw, p);
      if (e > 0) {
        const id = stream(KIND_NUMBER);
        if (id >= 0) {
          skel.u8(TEXT_STREAM_IDS[id]!);
          const out = streams[id]!.out;
          out.append(raw, p, e);
          out.u8(VALUE_END);
          p = e;
          continue;
        }
      }
    }
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) skel.u8(TEXT_ESC);
    skel.u8(b);
    p++;
  }
  return { skeleton: skel.view(), streams: streams.map((s) => ({ kind: s.kind, data: s.out.view() })) };
}

/** Inverse of splitText; `rawLength` is the exact expected output size. Throws MCZ_CHUNK_CORRUPT. */
export function joinText(split: TextSplit, rawLength: number): Uint8Array {
  const out = new Uint8Array(rawLength);
  const pos = new Array<number>(split.streams.length).fill(0);
  const sk = split.skeleton;
  let o = 0;
  const need = (k: number) => {
    if (o + k > rawLength) throw corrupt(`text chunk decodes to more than ${rawLength} bytes`);
  };
  for (let i = 0; i < sk.byteLength; i++) {
    const b = sk[i]!;
    if (b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) {
      need(1);
      out[o++] = b;
      continue;
    }
    if (b === TEXT_ESC) {
      if (++i >= sk.byteLength) throw corrupt('text skeleton ends after an escape byte');
      need(1);
      out[o++] = sk[i]!;
      continue;
    }
    const id = idOf[b]!;
    const s = split.streams[id];
    if (!s) throw corrupt(`text skeleton names stream ${id} of ${split.streams.length}`);
    const start = pos[id]!;
    const end = s.data.indexOf(VALUE_END, start);
    if (end < 0) throw corrupt(`text stream ${id} has too few values`);
    pos[id] = end + 1;
    const quoted = s.kind === KIND_STRING ? 2 : 0;
    need(end - start + quoted);
    if (quoted) out[o++] = QUOTE;
    out.set(s.data.subarray(start, end), o);
    o += end - start;
    if (quoted) out[o++] = QUOTE;
  }
  if (o !== rawLength) throw corrupt(`text chunk decoded to ${o} bytes, expected ${rawLength}`);
  for (let k = 0; k < split.streams.length; k++) if (pos[k] !== split.streams[k]!.data.byteLength) throw corrupt(`text stream ${k} has unused bytes`);
  return out;
}

/** A number stream as double planes, if every value is the shortest form of its double and long enough to gain. */
export function toDoubles(data: Uint8Array): Uint8Array | undefined {
  const vals = new TextDecoder('latin1').decode(data).split('\n');
  vals.pop(); // after the last terminator
  if (!vals.length || data.byteLength - vals.length < vals.length * DOUBLES_MIN_AVG_CHARS) return undefined;
  const n = vals.length;
  const out = new Uint8Array(n * 8);
  const b = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < n; i++) {
    const x = Number(vals[i]);
    if (String(x) !== vals[i]) return undefined; // "1.50", "-0", "1E5", "007": not the shortest form
    b.setFloat64(0, x);
    for (let k = 0; k < 8; k++) out[k * n + i] = b.getUint8(k);
  }
  return out;
}

/** Inverse of toDoubles: the values as LF-terminated shortest-form numbers. */
export function fromDoubles(planes: Uint8Array): Uint8Array {
  if (planes.byteLength % 8 !== 0) throw corrupt(`doubles stream of ${planes.byteLength} bytes is not a multiple of 8`);
  const n = planes.byteLength / 8;
  const b = new DataView(new ArrayBuffer(8));
  let text = '';
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 8; k++) b.setUint8(k, planes[k * n + i]!);
    text += String(b.getFloat64(0)) + '\n';
  }
  return new TextEncoder().encode(text);
}

/**
 * TEXT payload: `varint K`, then `varint skeletonLength`, then K × `varint (length·4 + kind)`,
 * then one brotli stream of skeleton ‖ stream 0 ‖ … ‖ stream K−1.
 */
export function encodeText(raw: Uint8Array, quality = TEXT_BROTLI_QUALITY): Uint8Array {
  const split = splitText(raw);
  const skeleton = split.skeleton;
  const streams = split.streams.map((s) => {
    const d = s.kind === KIND_NUMBER ? toDoubles(s.data) : undefined;
    return d ? { kind: KIND_DOUBLES, data: d } : s;
  });
  const w = new ByteWriter();
  w.varint(streams.length);
  w.varint(skeleton.byteLength);
  for (const s of streams) w.varint(s.data.byteLength * 4 + s.kind);
  const head = w.bytes();
  let total = skeleton.byteLength;
  for (const s of streams) total += s.data.byteLength;
  const joined = new Uint8Array(total);
  joined.set(skeleton, 0);
  let o = skeleton.byteLength;
  for (const s of streams) {
    joined.set(s.data, o);
    o += s.data.byteLength;
  }
  let lgwin = 16;
  while (lgwin < 24 && 2 ** lgwin < total) lgwin++;
  const body = brotliCompressSync(joined, {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: quality, [zlibConstants.BROTLI_PARAM_LGWIN]: lgwin, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: total, [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT },
  });
  const out = new Uint8Array(head.byteLength + body.byteLength);
  out.set(head, 0);
  out.set(body, head.byteLength);
  return out;
}

export function decodeText(payload: Uint8Array, rawLength: number): Uint8Array {
  const r = new Reader(payload);
  const k = r.varint();
  if (k > MAX_TEXT_STREAMS) throw corrupt(`text chunk has ${k} streams (at most ${MAX_TEXT_STREAMS})`);
  // every value costs at least one skeleton byte and one terminator; an escape two skeleton bytes
  const maxJoined = 2 * rawLength + 2;
  const skelLen = r.varint();
  let total = skelLen;
  const lens: { kind: number; len: number }[] = [];
  for (let i = 0; i < k; i++) {
    const v = r.varint();
    const kind = v % 4;
    const len = Math.floor(v / 4);
    if (kind > KIND_DOUBLES) throw corrupt(`text stream ${i} has unknown kind ${kind}`);
    total += len;
    lens.push({ kind, len });
  }
  if (skelLen > maxJoined || total > maxJoined) throw corrupt(`text chunk streams total ${total} bytes for ${rawLength} raw bytes`);
  let joined: Buffer;
  try {
    joined = brotliDecompressSync(payload.subarray(r.pos), { maxOutputLength: Math.max(1, total) });
  } catch (e) {
    throw corrupt(`text chunk brotli data is corrupt or too long: ${(e as Error).message}`);
  }
  if (joined.byteLength !== total) throw corrupt(`text chunk brotli data decoded to ${joined.byteLength} bytes, expected ${total}`);
  const bytes = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
  let o = skelLen;
  const streams = lens.map(({ kind, len }) => {
    const data = bytes.subarray(o, o + len);
    o += len;
    return kind === KIND_DOUBLES ? { kind: KIND_NUMBER, data: fromDoubles(data) } : { kind, data };
  });
  return joinText({ skeleton: bytes.subarray(0, skelLen), streams }, rawLength);
}

function corrupt(msg: string): McdnError {
  return new McdnError('MCZ_CHUNK_CORRUPT', 'integrity', msg);
}
