/**
 * Several hosts (issue 9 §4): an origin and three edges in different regions, each a separate
 * process started through the CLI on loopback — one edge the parent of another — and 20 clients
 * pulling through them. Origin egress is measured on the wire by a counting proxy in front of the
 * origin and reported against the total bytes the clients received.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pull } from '../../src/cdn/client/index.ts';
import { fixture } from '../fixtures.ts';
import { runCli, startServerProcess, type ServerProcess } from '../support/procs.ts';
import { startCountingProxy, type CountingProxy } from '../support/counting-proxy.ts';
import { sha256Hex } from '../../src/util/hash.ts';

const MODEL_DIR = fixture('models', 'tfjs', 'movenet-lightning-v3');

describe('origin + three edges in separate processes, 20 clients', () => {
  let dir: string;
  let origin: ServerProcess<{ url: string }>;
  let proxy: CountingProxy;
  const edges: ServerProcess<{ url: string }>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcdn-multihost-'));
    origin = await startServerProcess(['origin', '--data', join(dir, 'origin'), '--port', '0', '--encodings', 'none']);
    const tok = await runCli(['token', 'create', '--data', join(dir, 'origin')]);
    assert.equal(tok.code, 0, tok.stderr);
    const token = tok.stdout.trim().split('\n').pop()!;
    const pub = await runCli(['publish', MODEL_DIR, '--name', 'movenet', '--version', '3.0.0', '--token', token, '--server', origin.info.url]);
    assert.equal(pub.code, 0, pub.stderr);
    proxy = await startCountingProxy(origin.info.url);
    const us = await startServerProcess(['edge', '--origin', proxy.url, '--region', 'us-east', '--cache-dir', join(dir, 'edge-us'), '--cache-size', '1GB', '--port', '0', '--demand-interval', '0']);
    const eu = await startServerProcess(['edge', '--origin', proxy.url, '--region', 'eu-west', '--cache-dir', join(dir, 'edge-eu'), '--cache-size', '1GB', '--port', '0', '--demand-interval', '0']);
    const paris = await startServerProcess(['edge', '--origin', proxy.url, '--parent', eu.info.url, '--region', 'eu-paris', '--cache-dir', join(dir, 'edge-paris'), '--cache-size', '1GB', '--port', '0', '--demand-interval', '0']);
    edges.push(us, eu, paris);
  });

  after(async () => {
    await Promise.all(edges.map((e) => e.stop()));
    await proxy?.close();
    await origin?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves every client verified bytes while the origin sends each blob about once per tier', async () => {
    const base = proxy.bytesDown();
    const clients = Array.from({ length: 20 }, (_, i) => ({ i, edge: edges[i % 3]! }));
    // first wave: one client per edge warms the caches (the Paris edge fills from its EU parent)
    const results = [];
    for (const c of clients.slice(0, 3)) {
      results.push(await pull({ ref: 'movenet@latest', server: c.edge.info.url, outDir: join(dir, `client-${c.i}`), home: join(dir, `home-${c.i}`) }));
    }
    const afterWarm = proxy.bytesDown() - base;
    // second wave: the other 17 clients at once
    results.push(
      ...(await Promise.all(
        clients.slice(3).map((c) => pull({ ref: 'movenet@latest', server: c.edge.info.url, outDir: join(dir, `client-${c.i}`), home: join(dir, `home-${c.i}`) })),
      )),
    );
    const egress = proxy.bytesDown() - base;
    const served = results.reduce((s, r) => s + r.fetchedBytes, 0);
    for (const [i, r] of results.entries()) {
      for (const f of r.files) assert.equal(sha256Hex(await readFile(join(dir, `client-${i}`, f.path))), f.sha256);
    }
    const oneCopy = results[0]!.fetchedBytes;
    // two edges fetch from the origin; Paris fills from its parent; the second wave is all hits
    assert.ok(afterWarm <= oneCopy * 2 * 1.1 + 200_000, `warm-up egress ${afterWarm} for a ${oneCopy}-byte model`);
    assert.ok(egress - afterWarm <= 100_000, `second wave reached the origin for ${egress - afterWarm} bytes`);
    process.stdout.write(
      `# multi-host: 20 clients received ${served} bytes; origin egress ${egress} bytes (${((100 * egress) / served).toFixed(1)} % of bytes served)\n`,
    );
  });
});
