/**
 * The SIMD residual kernels of wasm/residual.wat behind a small interface over Uint8Arrays. The
 * kernels gather w byte planes into w-byte elements and XOR or zigzag-add them onto OLD's elements,
 * 16 elements per step (the scalar loops in residual.ts do one, and are the reference). Data passes
 * through the module's own memory in chunks of CHUNK_ELEMS elements (copy in, run, copy out: the
 * copies run at memcpy speed and keep the chunk in the L2 cache). Where WebAssembly SIMD is not
 * available, `invertSimd` handles nothing and the caller's scalar path does the work. Pure.
 */
import { RESIDUAL_WASM_BASE64 } from './wasm/residual-wasm.ts';

/** Elements per kernel call: the module's memory holds one chunk's elements and its w planes. */
export const CHUNK_ELEMS = 1 << 16;
/** Bytes of module memory: 4-byte elements plus up to 4 planes of CHUNK_ELEMS bytes. */
const MEMORY_BYTES = CHUNK_ELEMS * 4 + CHUNK_ELEMS * 4;
const PLANES_AT = CHUNK_ELEMS * 4;

interface Kernel {
  mem: Uint8Array;
  inv4: (q: number, p0: number, p1: number, p2: number, p3: number, n: number, sub: number) => void;
  inv2: (q: number, p0: number, p1: number, n: number, sub: number) => void;
  inv1: (q: number, p0: number, n: number, sub: number) => void;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(RESIDUAL_WASM_BASE64, 'base64')), {});
    const memory = inst.exports['memory'] as WebAssembly.Memory;
    const have = memory.buffer.byteLength;
    if (have < MEMORY_BYTES) memory.grow(Math.ceil((MEMORY_BYTES - have) / 65536));
    const e = inst.exports as unknown as Omit<Kernel, 'mem'>;
    kernel = { mem: new Uint8Array(memory.buffer), inv4: e.inv4, inv2: e.inv2, inv1: e.inv1 };
  } catch {
    kernel = null; // no WebAssembly SIMD here: the scalar path does the work
  }
  return kernel;
}

/** Whether the SIMD kernels are in use. */
export function simdAvailable(): boolean {
  return load() !== null;
}

/**
 * Invert the first elements of a run in place: `out` holds OLD's `count` w-byte elements (count*w
 * bytes) and receives NEW's; plane k's bytes for element i are planes[k][start + i]. Handles the
 * largest multiple of 16 elements and returns it (0 without SIMD); the caller inverts the rest.
 */
export function invertSimd(xor: boolean, w: 1 | 2 | 4, out: Uint8Array, planes: readonly Uint8Array[], start: number, count: number): number {
  const k = load();
  if (!k) return 0;
  const total = count - (count % 16);
  const mem = k.mem;
  const sub = xor ? 0 : 1;
  for (let i = 0; i < total; ) {
    const n = Math.min(CHUNK_ELEMS, total - i);
    mem.set(out.subarray(i * w, (i + n) * w), 0);
    for (let p = 0; p < w; p++) mem.set(planes[p].subarray(start + i, start + i + n), PLANES_AT + p * CHUNK_ELEMS);
    if (w === 4) k.inv4(0, PLANES_AT, PLANES_AT + CHUNK_ELEMS, PLANES_AT + 2 * CHUNK_ELEMS, PLANES_AT + 3 * CHUNK_ELEMS, n, sub);
    else if (w === 2) k.inv2(0, PLANES_AT, PLANES_AT + CHUNK_ELEMS, n, sub);
    else k.inv1(0, PLANES_AT, n, sub);
    out.set(mem.subarray(0, n * w), i * w);
    i += n;
  }
  return total;
}
