import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McdnError } from '../../errors.ts';
import { METHOD_REF } from '../chunk.ts';
import { decodeHeader, payloadOffsets } from '../format.ts';
import { packBytes } from '../pack.ts';
import { createUnpackStream } from '../unpack.ts';
import { ChunkPool } from './pool.ts';

/** 10 chunks of 4 MiB: random, patterned, two REF repeats of the first two, six more distinct ones. */
function sample(): { raw: Uint8Array; mcz: Uint8Array } {
  const a = new Uint8Array(randomBytes(4 << 20));
  const b = new Uint8Array(4 << 20).map((_, i) => (i * 31) & 255);
  const rest = Array.from({ length: 6 }, (_, k) => new Uint8Array(4 << 20).map((_, i) => ((i >> (k + 2)) * (k + 3)) & 255));
  const raw = new Uint8Array(4 * a.length + rest.length * a.length + 12345); // and an odd tail
  raw.set(a, 0);
  raw.set(b, a.length);
  raw.set(a, 2 * a.length);
  raw.set(b, 3 * a.length);
  rest.forEach((r, k) => raw.set(r, (4 + k) * a.length));
  const mcz = packBytes(raw);
  assert.ok(decodeHeader(mcz).chunks.filter((x) => x.method === METHOD_REF).length >= 2, 'the container repeats chunks by REF');
  return { raw, mcz };
}

async function unpackTo(mcz: Uint8Array, path: string, pool: ChunkPool, direct: boolean): Promise<number> {
  const u = createUnpackStream({ pool, chunkHashes: false, output: { path, direct } });
  let emitted = 0;
  u.on('data', (c: Buffer) => (emitted += c.length));
  const done = new Promise<void>((res, rej) => {
    u.on('end', res);
    u.on('error', rej);
  });
  for (let i = 0; i < mcz.length; i += 1 << 20) {
    if (!u.write(Buffer.from(mcz.subarray(i, Math.min(mcz.length, i + (1 << 20)))))) await new Promise((r) => u.once('drain', r));
  }
  u.end();
  await done;
  assert.equal(emitted, 0, 'in output mode the stream emits nothing');
  return u.produced;
}

test('output mode: chunk workers hand decoded chunks to the sink worker, which writes the file (direct and page cache, REF repeats, memory reused across files)', async () => {
  const { raw, mcz } = sample();
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-sink-'));
  const pool = new ChunkPool(2);
  try {
    for (const direct of [true, false, true]) {
      const out = join(dir, `out-${direct}`);
      assert.equal(await unpackTo(mcz, out, pool, direct), raw.length);
      assert.ok(readFileSync(out).equals(Buffer.from(raw)), `direct=${direct}: file intact`);
    }
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output mode: a corrupt chunk, a wrong file hash and an unwritable path each fail cleanly, and the pool keeps working', async () => {
  const { raw, mcz } = sample();
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-sink-'));
  const pool = new ChunkPool(2);
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e) => (e instanceof McdnError ? e.code : `not an McdnError: ${e}`));
  try {
    const h = decodeHeader(mcz);
    const at = payloadOffsets(h)[5]! + 100;
    const bad = Uint8Array.from(mcz);
    bad[at] ^= 0x40;
    assert.equal(await code(unpackTo(bad, join(dir, 'a'), pool, true)), 'MCZ_CHUNK_CHECKSUM_MISMATCH');
    // a container whose header names another file: every chunk decodes, the sink's sha256 differs
    const other = Uint8Array.from(raw);
    other[raw.length - 1] ^= 1;
    const forged = packBytes(other);
    const hf = decodeHeader(forged);
    assert.notEqual(hf.sha256, h.sha256);
    assert.equal(await code(unpackTo(spliceHash(forged, hf.sha256, h.sha256), join(dir, 'b'), pool, false)), 'MCZ_FILE_HASH_MISMATCH');
    assert.equal(await code(unpackTo(mcz, join(dir, 'no-such-dir', 'c'), pool, true)), 'FILE_NOT_FOUND');
    // nothing was left stuck: the same pool unpacks the good file
    assert.equal(await unpackTo(mcz, join(dir, 'd'), pool, true), raw.length);
    assert.ok(readFileSync(join(dir, 'd')).equals(Buffer.from(raw)));
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The container with the file sha256 in its header replaced (and the v2 header CRC, its last 4 bytes, recomputed). */
function spliceHash(mcz: Uint8Array, from: string, to: string): Uint8Array {
  const len = decodeHeader(mcz).headerLength;
  const out = Uint8Array.from(mcz);
  const at = Buffer.from(out.buffer, 0, len).indexOf(Buffer.from(from, 'hex'));
  assert.ok(at > 0, 'the header holds the file hash');
  out.set(Buffer.from(to, 'hex'), at);
  new DataView(out.buffer).setUint32(len - 4, crc32(out.subarray(0, len - 4)) >>> 0, true);
  assert.equal(decodeHeader(out).sha256, to);
  return out;
}
