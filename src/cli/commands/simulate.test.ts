import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../main.ts';
import { fixture } from '../../../test/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-sim-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sink() {
  let text = '';
  const s = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { s, text: () => text };
}

async function run(argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await main(argv, { stdout: out.s, stderr: err.s });
  return { code, stdout: out.text(), stderr: err.text() };
}

test('simulate --json on the AdaptSize trace: Belady and LRU side by side, default within 1.15x of Belady', async () => {
  const r = await run(['simulate', '--trace', fixture('traces', 'adaptsize_request.trace'), '--cache-size', '5%,10%', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { requests: number; rows: { policy: string; cacheLabel: string; byteMissVsBelady: number; byteMissRatio: number; cost: { total: number } }[] };
  assert.equal(j.requests, 66_987);
  assert.deepEqual(j.rows.map((x) => `${x.cacheLabel}/${x.policy}`), ['5%/belady', '5%/lru', '5%/s3fifo', '10%/belady', '10%/lru', '10%/s3fifo']);
  for (const row of j.rows.filter((x) => x.policy === 's3fifo')) assert.ok(row.byteMissVsBelady <= 1.15, JSON.stringify(row));
  for (const row of j.rows) assert.ok(row.cost.total > 0);
});

test('simulate: csv with regions and tiered fetch, human table', async () => {
  const lines = ['timestamp,object,size,region'];
  for (let i = 0; i < 400; i++) lines.push(`${i},obj${(i * 7) % 23},${100 + ((i * 7) % 23) * 10},${i % 2 ? 'eu' : 'us'}`);
  const p = join(dir, 'r.csv');
  writeFileSync(p, lines.join('\n'));
  const r = await run(['simulate', '--trace', p, '--cache-size', '2kB', '--policy', 'all', '--placement', 'on']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 edge\(s\)/);
  assert.match(r.stdout, /belady/);
  assert.match(r.stdout, /tinylfu/);
});

test('simulate: bad input gives one clear error line and exit code 2', async () => {
  const bad = join(dir, 'bad.trace');
  writeFileSync(bad, '1 a 10\n2 b 20\n3 c twenty\n');
  let r = await run(['simulate', '--trace', bad, '--format', 'adaptsize']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: bad\.trace:3: object size 'twenty'/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  r = await run(['simulate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--trace FILE is required/);
  r = await run(['simulate', '--trace', bad, '--policy', 'fifo9']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown eviction policy 'fifo9'/);
  r = await run(['simulate', '--trace', fixture('traces', 'adaptsize_request.trace'), '--cache-size', '150%']);
  assert.equal(r.code, 2);
  r = await run(['simulate', '--trace', join(dir, 'missing.trace')]);
  assert.equal(r.code, 4);
  r = await run(['simulate', '--trace', bad, '--prices', 'originEgressPerGB=-1']);
  assert.equal(r.code, 2);
});
