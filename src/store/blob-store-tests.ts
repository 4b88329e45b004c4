/**
 * The shared BlobStore test suite (STYLE.md §5): every implementation (memory, filesystem, S3)
 * runs exactly these tests via `blobStoreTests(name, makeStore)`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BlobStore } from './blob-store.ts';
import { McdnError } from '../errors.ts';
import { sha256Hex } from '../util/hash.ts';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

export function blobStoreTests(name: string, makeStore: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    it('put returns the sha256 and get returns the bytes', async () => {
      const s = await makeStore();
      const data = randomBytes(10_000);
      const r = await s.put(data);
      assert.equal(r.hash, sha256Hex(data));
      assert.equal(r.size, data.length);
      assert.equal(r.created, true);
      assert.deepEqual(Buffer.from(await s.get(r.hash)), data);
      assert.equal(await s.has(r.hash), true);
      assert.deepEqual(await s.stat(r.hash), { hash: r.hash, size: data.length });
    });

    it('a second put of the same bytes reports created=false', async () => {
      const s = await makeStore();
      const data = randomBytes(100);
      await s.put(data);
      const again = await s.put(data);
      assert.equal(again.created, false);
      assert.equal(await s.totalSize(), 100);
    });

    it('accepts async iterables and stores the concatenation', async () => {
      const s = await makeStore();
      const parts = [randomBytes(1000), randomBytes(1), randomBytes(70_000)];
      const r = await s.put(
        (async function* () {
          for (const p of parts) yield p;
        })(),
      );
      assert.equal(r.hash, sha256Hex(Buffer.concat(parts)));
    });

    it('rejects content that does not match expectedHash and stores nothing', async () => {
      const s = await makeStore();
      const data = randomBytes(500);
      const wrong = sha256Hex(Buffer.from('something else'));
      await assert.rejects(s.put(data, wrong), (e: unknown) => e instanceof McdnError && e.code === 'BLOB_HASH_MISMATCH');
      assert.equal(await s.has(wrong), false);
      assert.equal(await s.has(sha256Hex(data)), false);
      assert.equal(await s.totalSize(), 0);
    });

    it('streams whole blobs and byte ranges', async () => {
      const s = await makeStore();
      const data = randomBytes(3 << 20);
      const { hash } = await s.put(data);
      assert.deepEqual(await collect(await s.stream(hash)), data);
      assert.deepEqual(await collect(await s.stream(hash, { start: 1000, end: 2_500_000 })), data.subarray(1000, 2_500_000));
      assert.equal((await collect(await s.stream(hash, { start: 5, end: 5 }))).length, 0);
    });

    it('missing blobs: stat undefined, get throws BLOB_NOT_FOUND, delete false', async () => {
      const s = await makeStore();
      const h = sha256Hex('absent');
      assert.equal(await s.stat(h), undefined);
      await assert.rejects(s.get(h), (e: unknown) => e instanceof McdnError && e.code === 'BLOB_NOT_FOUND' && e.category === 'not_found');
      assert.equal(await s.delete(h), false);
    });

    it('refuses names that are not sha256 hex (path traversal)', async () => {
      const s = await makeStore();
      for (const bad of ['../etc/passwd', '..%2f..%2f', 'ABC', 'a'.repeat(63), 'g'.repeat(64), `${'a'.repeat(62)}/.`]) {
        await assert.rejects(s.get(bad), (e: unknown) => e instanceof McdnError && e.code === 'BAD_HASH', bad);
      }
    });

    it('lists, accounts sizes and deletes', async () => {
      const s = await makeStore();
      const a = await s.put(randomBytes(10));
      const b = await s.put(randomBytes(20));
      const listed = [];
      for await (const x of s.list()) listed.push(x);
      assert.deepEqual(listed.map((x) => x.hash).sort(), [a.hash, b.hash].sort());
      assert.equal(await s.totalSize(), 30);
      assert.equal(await s.delete(a.hash), true);
      assert.equal(await s.has(a.hash), false);
      assert.equal(await s.totalSize(), 20);
    });

    it('is safe under concurrent writers of the same blob', async () => {
      const s = await makeStore();
      const data = randomBytes(2 << 20);
      const results = await Promise.all(Array.from({ length: 8 }, () => s.put(data)));
      assert.ok(results.every((r) => r.hash === sha256Hex(data)));
      assert.ok(results.filter((r) => r.created).length >= 1);
      assert.deepEqual(Buffer.from(await s.get(results[0]!.hash)), data);
      assert.equal(await s.totalSize(), data.length);
    });
  });
}
