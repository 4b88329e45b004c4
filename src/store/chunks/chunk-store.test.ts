import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChunkStore } from './chunk-store.ts';
import { assembleFile, fetchMissingChunks } from './fetch.ts';
import { parseChunkManifest, serializeChunkManifest } from './manifest.ts';
import { FsBlobStore } from '../fs.ts';
import { MemoryBlobStore } from '../memory.ts';
import { fixture } from '../../../test/fixtures.ts';
import { McdnError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';
import { writeSafetensors } from '../../formats/index.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mcdn-chunks-'));
  dirs.push(d);
  return d;
}

function readerFor(store: ChunkStore) {
  return async (xorb: string, start: number, end: number) => {
    const parts: Uint8Array[] = [];
    for await (const c of await store.blobs.stream(xorb, { start, end })) parts.push(c);
    return new Uint8Array(Buffer.concat(parts));
  };
}

const shardedDir = fixture('models', 'tfjs', 'ssd-mobilenetv1-u8-sharded');
const singleDir = fixture('models', 'tfjs', 'ssd-mobilenetv1-u8');
const sharded = ['ssd_mobilenetv1_model-weights_manifest.json', 'ssd_mobilenetv1_model-shard1', 'ssd_mobilenetv1_model-shard2'].map((f) => join(shardedDir, f));
const single = ['ssd_mobilenetv1_model-weights_manifest.json', 'ssd_mobilenetv1_model.bin'].map((f) => join(singleDir, f));

describe('ChunkStore', () => {
  it('re-sharded tfjs weights cost almost nothing the second time, and both rebuild byte-exact', async () => {
    const dir = await tempDir();
    const store = new ChunkStore(new FsBlobStore(join(dir, 'blobs')), join(dir, 'chunks.db'));
    const first = await store.ingest('ssd@0.8.9', sharded);
    assert.equal(first.knownBytes < first.totalBytes * 0.05, true);
    const second = await store.ingest('ssd@1.7.15', single);
    // the weights are all known; only the (different) manifest JSON is new
    assert.ok(second.newPackedBytes <= second.totalBytes * 0.01, `second publish stored ${second.newPackedBytes} of ${second.totalBytes}`);
    const cache = new MemoryBlobStore();
    for (const ing of [first, second]) {
      for (const f of ing.files) {
        const m = parseChunkManifest(serializeChunkManifest(f.manifest));
        await fetchMissingChunks(m, cache, readerFor(store));
        const out = join(dir, `out-${sha256Hex(f.path).slice(0, 8)}`);
        await assembleFile(m, cache, out);
        assert.deepEqual(await readFile(out), await readFile(f.path));
      }
    }
    store.close();
  });

  it('a client that has the old release fetches only new chunks, in few ranged requests', async () => {
    const dir = await tempDir();
    const store = new ChunkStore(new MemoryBlobStore(), ':memory:');
    const first = await store.ingest('a', sharded);
    const cache = new MemoryBlobStore();
    let requests = 0;
    for (const f of first.files) requests += (await fetchMissingChunks(f.manifest, cache, readerFor(store))).requests;
    assert.ok(requests <= 6, `${requests} requests for the first pull`);
    const second = await store.ingest('b', single);
    let sent = 0;
    for (const f of second.files) {
      const st = await fetchMissingChunks(f.manifest, cache, readerFor(store));
      sent += st.bytesTransferred;
      await assembleFile(f.manifest, cache, join(dir, 'x'));
    }
    assert.ok(sent <= second.totalBytes * 0.01, `sent ${sent}`);
  });

  it('dedups identical tensors inside one file and across formats', async () => {
    const dir = await tempDir();
    const w = new Float32Array(100_000).map(() => Math.random());
    const t = { dtype: 'F32' as const, shape: [100_000], data: new Uint8Array(w.buffer) };
    await writeSafetensors(join(dir, 'a.safetensors'), [{ name: 'x', ...t }, { name: 'y', ...t }]);
    await writeSafetensors(join(dir, 'b.safetensors'), [{ name: 'renamed', ...t }, { name: 'other', dtype: 'F32', shape: [4], data: new Uint8Array(16) }], { note: 'different header' });
    const store = new ChunkStore(new MemoryBlobStore(), ':memory:');
    const a = await store.ingest('a', [join(dir, 'a.safetensors')]);
    assert.ok(a.newBytes < 400_000 * 1.05, `duplicate tensor stored twice: ${a.newBytes}`);
    const b = await store.ingest('b', [join(dir, 'b.safetensors')]);
    assert.ok(b.newBytes < 1000, `shared tensor not deduped across files: ${b.newBytes}`);
  });

  it('garbage-collects released chunks only after the grace period, and never live ones', async () => {
    const dir = await tempDir();
    const f1 = join(dir, 'one.bin');
    const f2 = join(dir, 'two.bin');
    const shared = randomBytes(300_000);
    await writeFile(f1, Buffer.concat([shared, randomBytes(200_000)]));
    await writeFile(f2, Buffer.concat([shared, randomBytes(200_000)]));
    const store = new ChunkStore(new MemoryBlobStore(), ':memory:');
    const t0 = 1_000_000;
    const one = await store.ingest('one', [f1], t0);
    const two = await store.ingest('two', [f2], t0);
    store.release('one', t0 + 10);
    assert.equal((await store.gc(t0 + 20, 1000)).chunksDeleted, 0, 'grace period');
    const r = await store.gc(t0 + 5000, 1000);
    assert.ok(r.chunksDeleted > 0);
    // everything "two" references is still there and rebuilds
    const cache = new MemoryBlobStore();
    await fetchMissingChunks(two.files[0]!.manifest, cache, readerFor(store));
    await assembleFile(two.files[0]!.manifest, cache, join(dir, 'two.out'));
    assert.deepEqual(await readFile(join(dir, 'two.out')), await readFile(f2));
    // the chunks only "one" had left the index; the shared ones stayed
    const twoHashes = new Set(two.files[0]!.manifest.chunks.map((c) => c.hash));
    const onlyOne = one.files[0]!.manifest.chunks.filter((c) => !twoHashes.has(c.hash));
    assert.ok(onlyOne.length > 0);
    assert.ok(onlyOne.every((c) => !store.hasChunk(c.hash)));
    assert.ok([...twoHashes].every((h) => store.hasChunk(h)));
    store.close();
  });

  it('concurrent publish and GC never lose a chunk a live version references', async () => {
    const dir = await tempDir();
    const base = randomBytes(400_000);
    const store = new ChunkStore(new MemoryBlobStore(), ':memory:');
    let now = 10_000_000;
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const f = join(dir, `v${i}.bin`);
      const b = Buffer.from(base);
      b.set(randomBytes(70_000), (i * 30_000) % 300_000);
      await writeFile(f, b);
      files.push(f);
    }
    const live = new Map<string, Awaited<ReturnType<ChunkStore['ingest']>>>();
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < files.length; i++) {
      ops.push(store.ingest(`v${i}`, [files[i]!], now).then((r) => live.set(`v${i}`, r)));
      if (i >= 2) {
        store.release(`v${i - 2}`, now);
        live.delete(`v${i - 2}`);
      }
      ops.push(store.gc((now += 10), 0));
    }
    await Promise.all(ops);
    await store.gc(now + 1, 0);
    for (const [label, ing] of live) {
      const cache = new MemoryBlobStore();
      await fetchMissingChunks(ing.files[0]!.manifest, cache, readerFor(store));
      const out = join(dir, `${label}.out`);
      await assembleFile(ing.files[0]!.manifest, cache, out);
      assert.deepEqual(await readFile(out), await readFile(ing.files[0]!.path));
    }
    store.close();
  });

  it('a corrupted chunk is never written into the rebuilt file', async () => {
    const dir = await tempDir();
    const f = join(dir, 'm.onnx');
    await copyFile(fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx'), f);
    const store = new ChunkStore(new MemoryBlobStore(), ':memory:');
    const ing = await store.ingest('m', [f]);
    const m = ing.files[0]!.manifest;
    const bad = async (xorb: string, start: number, end: number) => {
      const b = await readerFor(store)(xorb, start, end);
      const c = b.slice();
      c[Math.floor(c.length / 2)] ^= 0x40;
      return c;
    };
    await assert.rejects(fetchMissingChunks(m, new MemoryBlobStore(), bad), (e: unknown) => e instanceof McdnError && e.category === 'integrity');
    await assert.rejects(assembleFile(m, new MemoryBlobStore(), join(dir, 'out')), (e: unknown) => e instanceof McdnError && e.code === 'CHUNK_NOT_CACHED');
    await assert.rejects(readFile(join(dir, 'out')));
  });
});
