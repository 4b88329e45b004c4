/**
 * A slow reference decoder for the tensor payload, written in the order of docs/spec/patch.md with
 * no fused loops, typed-array views or streaming: whole streams are built first, every element is
 * read and written through a DataView. It is the oracle the fast decoder (tensor.ts) is tested
 * against. Test-only in spirit; pure (bytes in, bytes out).
 */
import { zstdDecompress, zstdDecompressWithPrefix } from '../codec/zstd.ts';
import { readTensorPlan } from './tensor.ts';
import { CASTS } from './cast.ts';

function readWord(b: Uint8Array, at: number, w: number): bigint {
  let v = 0n;
  for (let k = w - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[at + k]);
  return v;
}

function writeWord(b: Uint8Array, at: number, w: number, v: bigint): void {
  for (let k = 0; k < w; k++) {
    b[at + k] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** inverse(op): NEW element from OLD (or predicted) element o and residual r, w-byte words. */
function inverse(op: string, w: number, o: bigint, r: bigint): bigint {
  const bits = BigInt(8 * w);
  const mask = (1n << bits) - 1n;
  if (op === 'x') return o ^ r;
  const d = (r >> 1n) ^ -(r & 1n); // unzigzag
  return (o + d) & mask;
}

export function referenceDecodeTensorPayload(payload: Uint8Array, old: Uint8Array, newSize: number): Uint8Array {
  const { plan, dataOffset } = readTensorPlan(payload, old.length, newSize, 'reference');
  let at = dataOffset;
  const take = (n: number) => payload.subarray(at, (at += n));
  // 1. the literal stream
  const litFrame = take(plan.lit[1]);
  const ref = new Uint8Array(plan.ref.reduce((s, r) => s + r[1], 0));
  let rp = 0;
  for (const [off, len] of plan.ref) {
    ref.set(old.subarray(off, off + len), rp);
    rp += len;
  }
  const lit = plan.lit[0] > 0 ? zstdDecompressWithPrefix(litFrame, ref, plan.lit[0]) : new Uint8Array(0);
  // 2. every residual stream, whole: blocks in order, planes interleaved back into elements
  const streams = new Map<string, number[]>();
  for (const [key, raw, codings] of plan.blk) {
    const w = Number(key.slice(1));
    const n = raw / w;
    const planes = codings.map(([c, len]) => (c === 'z' ? zstdDecompress(take(len), n) : take(len)));
    const s = streams.get(key) ?? [];
    for (let i = 0; i < n; i++) for (let k = 0; k < w; k++) s.push(planes[k][i]);
    streams.set(key, s);
  }
  const pos = new Map<string, number>();
  const next = (key: string, len: number) => {
    const p = pos.get(key) ?? 0;
    pos.set(key, p + len);
    return Uint8Array.from(streams.get(key)!.slice(p, p + len));
  };
  // 3. the segments, in order
  const out = new Uint8Array(newSize);
  let o = 0;
  let lp = 0;
  for (const s of plan.seg) {
    if (s[0] === 'L') {
      out.set(lit.subarray(lp, lp + s[1]), o);
      lp += s[1];
      o += s[1];
    } else if (s[0] === 'C') {
      out.set(old.subarray(s[1], s[1] + s[2]), o);
      o += s[2];
    } else if (s[0] === 'N') {
      out.set(next(`n${s[2]}`, s[1]), o);
      o += s[1];
    } else {
      const [base, len, w, op] = s[0] === 'D' ? [old.subarray(s[1], s[1] + s[2]), s[2], s[3], s[4]] : [CASTS[s[4]].convert(old.subarray(s[1], s[1] + s[2])), s[3], CASTS[s[4]].toWidth, s[5]];
      const res = next(`d${w}`, len);
      for (let i = 0; i < len; i += w) writeWord(out, o + i, w, inverse(op, w, readWord(base, i, w), readWord(res, i, w)));
      o += len;
    }
  }
  return out;
}
