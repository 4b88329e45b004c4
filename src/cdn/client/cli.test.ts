/** The `pull` and `edge` commands through the CLI dispatcher: one clear error line per bad input, and a real --json pull. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { main } from '../../cli/main.ts';
import { generateSigningKey, publicKeyDocument, signManifest, type Manifest } from '../manifest/index.ts';
import { randomBlob, startTestOrigin, type TestOrigin } from '../edge/test-origin.ts';

function capture(): { stream: Writable; text: () => string } {
  let s = '';
  return {
    stream: new Writable({
      write(c, _e, cb) {
        s += c.toString();
        cb();
      },
    }),
    text: () => s,
  };
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = capture();
  const e = capture();
  const code = await main(argv, { stdout: o.stream, stderr: e.stream });
  return { code, out: o.text(), err: e.text() };
}

let origin: TestOrigin;
let dir: string;
before(async () => {
  origin = await startTestOrigin();
  dir = await mkdtemp(join(tmpdir(), 'mcdn-cli-'));
});
after(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

test('bad input gives one error line and a non-zero exit', async () => {
  const saved = process.env['MODELCDN_SERVER'];
  delete process.env['MODELCDN_SERVER'];
  try {
    const cases: [string[], RegExp][] = [
      [['pull', 'x'], /no server given/],
      [['pull', '../etc@1', '--server', origin.url], /invalid model name/],
      [['pull', 'x', '--server', 'ftp://h'], /unsupported URL scheme/],
      [['pull', 'x', '--server', origin.url, '--parallel', '0'], /--parallel must be 1..64/],
      [['edge', '--cache-dir', dir], /--origin URL is required/],
      [['edge', '--origin', origin.url, '--cache-dir', dir, '--cache-size', 'lots'], /is not a size/],
      [['edge', '--origin', origin.url, '--cache-dir', dir, '--verify', 'sometimes'], /--verify must be/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(argv);
      assert.notEqual(r.code, 0, argv.join(' '));
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
      assert.match(r.err, /^error: /);
    }
  } finally {
    if (saved !== undefined) process.env['MODELCDN_SERVER'] = saved;
  }
});

test('pull --json prints the result and writes the verified file', async () => {
  const keys = generateSigningKey();
  origin.meta.set('/.well-known/modelcdn/public-key', { body: JSON.stringify(publicKeyDocument(keys.publicKey)) });
  const data = randomBlob(300_000, 9);
  const m: Manifest = { schema: 1, name: 'cli', version: '1.0', createdAt: '2026-01-01T00:00:00Z', files: [{ path: 'w.bin', size: data.length, sha256: origin.add(data), format: 'unknown', patches: [] }] };
  origin.meta.set('/v1/models/cli/versions/1.0/manifest', { body: JSON.stringify(signManifest(m, keys)) });
  const keyFile = join(dir, 'k.pub.json');
  await (await import('node:fs/promises')).writeFile(keyFile, JSON.stringify(publicKeyDocument(keys.publicKey)));
  const out = join(dir, 'out');
  const saved = process.env['MODELCDN_HOME'];
  process.env['MODELCDN_HOME'] = join(dir, 'home');
  try {
    const r = await run(['pull', 'cli@1.0', '--server', origin.url, '-o', out, '--trust', keyFile, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { version: string; trust: string; files: { route: string }[] };
    assert.equal(j.version, '1.0');
    assert.equal(j.trust, 'file');
    assert.equal(j.files[0]!.route, 'raw');
    assert.ok((await readFile(join(out, 'w.bin'))).equals(data));
  } finally {
    if (saved === undefined) delete process.env['MODELCDN_HOME'];
    else process.env['MODELCDN_HOME'] = saved;
  }
});
