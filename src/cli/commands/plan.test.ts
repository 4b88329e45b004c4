import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../main.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const mk = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await main(argv, { stdout: mk((s) => (out += s)), stderr: mk((s) => (err += s)) });
  return { code, out, err };
}

test('plan: pins by demand × size with a reason, JSON and errors', async () => {
  const t = Date.UTC(2026, 0, 1, 12);
  const reports = [
    { region: 'eu', from: t - 3600e3, to: t, items: [{ model: 'llama', version: '3', requests: 50, bytes: 50 * 2e9 }, { model: 'tiny', version: '1', requests: 0.5, bytes: 1e6 }] },
    { region: 'us', from: t - 3600e3, to: t, items: [{ model: 'llama', version: '3', requests: 40, bytes: 40 * 2e9 }, { model: 'whisper', version: '2', requests: 30, bytes: 30 * 1e9 }] },
  ];
  const p = join(dir, 'd.json');
  writeFileSync(p, JSON.stringify(reports));
  const r = await run(['plan', '--demand', p, '--capacity', '2.5GB', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { placements: { region: string; model: string; reason: string }[]; lazy: { model: string }[] };
  assert.deepEqual(j.placements.map((x) => `${x.region}:${x.model}`), ['eu:llama', 'us:llama']); // whisper no longer fits in us
  assert.ok(j.placements.every((x) => x.reason.length > 10));
  assert.ok(j.lazy.some((x) => x.model === 'tiny'));
  const h = await run(['plan', '--demand', p, '--capacity', '2.5GB']);
  assert.match(h.out, /local demand/);
  writeFileSync(p, '{"reports": [{"region": "eu", "from": 5, "to": 1, "items": []}]}');
  const bad = await run(['plan', '--demand', p]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /report 0/);
  writeFileSync(p, '[oops');
  assert.equal((await run(['plan', '--demand', p])).code, 2);
});
