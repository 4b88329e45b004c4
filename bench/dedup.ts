/**
 * npm run bench:dedup — what chunk-level dedup saves on real model catalogs, side by side in one run:
 *   - whole-file hashing (a file is stored/sent once per distinct sha256, zstd-compressed),
 *   - 64 KiB content-defined chunks alone (the Xet approach; chunks compressed like ours, best of
 *     byte-plane widths 1/2/4, so only the chunking differs),
 *   - modelcdn: tensor-aligned chunks + CDC fallback + tfjs logical streams.
 * Every fixture model is published into one chunk store (an origin's), in a realistic release order,
 * then pulled by one client that keeps its chunk cache: bytes stored vs raw, bytes sent per pull.
 * Usage: npm run bench:dedup [-- --json]
 */
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../test/fixtures.ts';
import { FsBlobStore } from '../src/store/fs.ts';
import { ChunkStore } from '../src/store/chunks/chunk-store.ts';
import { cdcLengths } from '../src/store/chunks/cdc.ts';
import { encodeChunkPayload } from '../src/store/chunks/xorb.ts';
import { assembleFile, fetchMissingChunks } from '../src/store/chunks/fetch.ts';
import { zstdCompress } from '../src/codec/index.ts';
import { sha256Hex } from '../src/util/hash.ts';
import { formatBytes, table } from '../src/cli/output.ts';
import { readFile } from 'node:fs/promises';

const M = join(FIXTURES, 'models');
const dirFiles = (d: string) =>
  readdirSync(join(M, d))
    .sort()
    .map((f) => join(M, d, f));

/** Releases in the order a catalog would publish them: old release, then new. */
const RELEASES: { name: string; files: string[] }[] = [
  { name: 'silero-vad@4-legacy', files: [join(M, 'onnx/silero_vad_v4legacy.onnx')] },
  { name: 'silero-vad@5', files: [join(M, 'onnx/silero_vad_v5.onnx')] },
  { name: 'ssd-mobilenetv1@0.8.9 (2 shards)', files: dirFiles('tfjs/ssd-mobilenetv1-u8-sharded') },
  { name: 'ssd-mobilenetv1@1.7.15 (1 file)', files: dirFiles('tfjs/ssd-mobilenetv1-u8') },
  { name: 'movenet-lightning@3', files: dirFiles('tfjs/movenet-lightning-v3') },
  { name: 'movenet-lightning@4', files: dirFiles('tfjs/movenet-lightning-v4') },
  { name: 'facemesh@fp32', files: dirFiles('tfjs/facemesh-fp32') },
  { name: 'facemesh@fp16', files: dirFiles('tfjs/facemesh-fp16') },
  { name: 'ppocr-det@4', files: [join(M, 'onnx/ppocr_v4_det.onnx')] },
  { name: 'ppocr-rec@4', files: [join(M, 'onnx/ppocr_v4_rec.onnx')] },
  { name: 'ppocr-cls@2', files: [join(M, 'onnx/ppocr_mobile_v2_cls.onnx')] },
];

interface Row {
  release: string;
  size: number;
  wholeFile: number;
  cdc: number;
  modelcdn: number;
  modelcdnRequests: number;
}

async function main() {
  const json = process.argv.includes('--json');
  const work = await mkdtemp(join(tmpdir(), 'mcdn-bench-dedup-'));
  try {
    // modelcdn: a real chunk store (xorbs in a filesystem blob store, SQLite index) and a client
    // with its own chunk cache that rebuilds and verifies every file.
    const store = new ChunkStore(new FsBlobStore(join(work, 'origin')), join(work, 'origin', 'chunks.db'));
    const clientCache = new FsBlobStore(join(work, 'client-cache'));
    const blobs = store.blobs;
    const read = async (xorb: string, start: number, end: number) => {
      const parts: Uint8Array[] = [];
      for await (const c of await blobs.stream(xorb, { start, end })) parts.push(c);
      return new Uint8Array(Buffer.concat(parts));
    };
    // baselines: in-memory sets of what is stored and what the client already has
    const wholeStored = new Map<string, number>();
    const wholeClient = new Set<string>();
    const cdcStored = new Map<string, number>();
    const cdcClient = new Set<string>();
    const rows: Row[] = [];
    let raw = 0;
    for (const rel of RELEASES) {
      const size = rel.files.reduce((s, f) => s + statSync(f).size, 0);
      raw += size;
      // whole-file hashing
      let wholeSent = 0;
      for (const f of rel.files) {
        const bytes = await readFile(f);
        const h = sha256Hex(bytes);
        if (!wholeStored.has(h)) wholeStored.set(h, zstdCompress(bytes, 3).length);
        if (!wholeClient.has(h)) {
          wholeSent += wholeStored.get(h)!;
          wholeClient.add(h);
        }
      }
      // 64 KiB CDC alone
      let cdcSent = 0;
      for (const f of rel.files) {
        const bytes = new Uint8Array(await readFile(f));
        let pos = 0;
        for (const n of cdcLengths(bytes)) {
          const c = bytes.subarray(pos, pos + n);
          pos += n;
          const h = sha256Hex(c);
          if (!cdcStored.has(h)) {
            const best = Math.min(...[1, 2, 4].filter((w) => n % w === 0).map((w) => encodeChunkPayload(c, w).payload.length));
            cdcStored.set(h, best);
          }
          if (!cdcClient.has(h)) {
            cdcSent += cdcStored.get(h)!;
            cdcClient.add(h);
          }
        }
      }
      // modelcdn
      const ing = await store.ingest(rel.name, rel.files);
      let sent = 0;
      let requests = 0;
      for (const f of ing.files) {
        const st = await fetchMissingChunks(f.manifest, clientCache, read);
        sent += st.bytesTransferred;
        requests += st.requests;
        await assembleFile(f.manifest, clientCache, join(work, `pulled-${sha256Hex(f.path).slice(0, 8)}`));
      }
      rows.push({ release: rel.name, size, wholeFile: wholeSent, cdc: cdcSent, modelcdn: sent, modelcdnRequests: requests });
    }
    const st = store.stats();
    const stored = {
      raw,
      wholeFile: [...wholeStored.values()].reduce((a, b) => a + b, 0),
      cdc: [...cdcStored.values()].reduce((a, b) => a + b, 0),
      modelcdn: st.xorbBytes,
      modelcdnUniqueRaw: st.rawBytes,
    };
    store.close();
    if (json) {
      console.log(JSON.stringify({ rows, stored }, null, 2));
      return;
    }
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)} %`;
    console.log('Bytes sent per pull (client keeps its cache), as % of the release size:\n');
    console.log(
      table(
        ['release', 'size', 'whole-file', 'CDC 64 KiB (Xet)', 'modelcdn', 'requests'],
        rows.map((r) => [r.release, formatBytes(r.size), pct(r.wholeFile, r.size), pct(r.cdc, r.size), pct(r.modelcdn, r.size), r.modelcdnRequests]),
      ),
    );
    console.log('\nStored at the origin (compressed), as % of all raw bytes published:\n');
    console.log(
      table(
        ['approach', 'stored', '% of raw', 'vs CDC'],
        [
          ['raw bytes published', formatBytes(stored.raw), '100.0 %', ''],
          ['whole-file hashing', formatBytes(stored.wholeFile), pct(stored.wholeFile, raw), (stored.wholeFile / stored.cdc).toFixed(3)],
          ['CDC 64 KiB alone (Xet)', formatBytes(stored.cdc), pct(stored.cdc, raw), '1.000'],
          ['modelcdn tensor-aligned', formatBytes(stored.modelcdn), pct(stored.modelcdn, raw), (stored.modelcdn / stored.cdc).toFixed(3)],
        ],
      ),
    );
    console.log(`\n(modelcdn unique raw chunk bytes: ${formatBytes(stored.modelcdnUniqueRaw)}; stored includes xorb headers)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
