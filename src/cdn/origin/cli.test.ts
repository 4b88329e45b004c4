/**
 * The origin's CLI commands end to end: keygen writes a usable key pair, token create prints the
 * token as its last line (list/revoke work, only a hash is stored), `modelcdn origin` runs as a real
 * process (keys and db created on first run, clean stop on SIGTERM), and `modelcdn publish` uploads
 * a directory and waits for the job; bad input gives one error line and the right exit code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain } from '../../../test/support/cli.ts';
import { verifyManifestEnvelope, keyPairFromPem, parsePublicKey } from '../manifest/index.ts';
import { Registry } from '../registry/registry.ts';
import { sha256Hex } from '../../util/hash.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

const run = runMain;

let dir: string;
let proc: ChildProcess | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcdn-cli-'));
});

after(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGKILL');
    await new Promise((r) => proc!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

test('keygen writes a private key (0600) and a public key document that verify each other', async () => {
  const r = await run(['keygen', '--out', join(dir, 'keys'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { keyId: string; keyFile: string; publicFile: string };
  assert.equal(statSync(out.keyFile).mode & 0o777, 0o600);
  const kp = keyPairFromPem(readFileSync(out.keyFile, 'utf8'));
  assert.equal(kp.keyId, out.keyId);
  assert.equal(parsePublicKey(readFileSync(out.publicFile, 'utf8')).keyId, out.keyId);
  const again = await run(['keygen', '--out', join(dir, 'keys')]);
  assert.notEqual(again.code, 0, 'refuses to overwrite');
  assert.match(again.stderr, /^error: /);
});

test('token create prints the token last; list and revoke; only a hash is stored', async () => {
  const data = join(dir, 'tok');
  const c = await run(['token', 'create', '--data', data, '--name', 'ci']);
  assert.equal(c.code, 0, c.stderr);
  const token = c.stdout.trim().split('\n').at(-1)!;
  assert.match(token, /^mcdn_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  const l = await run(['token', 'list', '--data', data, '--json']);
  const rows = JSON.parse(l.stdout) as { id: string; name: string; revoked: boolean }[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.name, 'ci');
  const db = readFileSync(join(data, 'registry.db'));
  assert.ok(!db.includes(Buffer.from(token)), 'the token itself is not in the database');
  const reg = new Registry(join(data, 'registry.db'));
  assert.equal(reg.verifyToken(token), rows[0]!.id);
  reg.close();
  assert.equal((await run(['token', 'revoke', rows[0]!.id, '--data', data])).code, 0);
  const reg2 = new Registry(join(data, 'registry.db'));
  assert.equal(reg2.verifyToken(token), undefined);
  reg2.close();
  const twice = await run(['token', 'revoke', rows[0]!.id, '--data', data]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /already revoked/);
  assert.equal((await run(['token', 'frobnicate', '--data', data])).code, 2);
  assert.equal((await run(['token', 'list'])).code, 2);
});

test('origin runs as a process; publish uploads a directory; SIGTERM stops it cleanly', async () => {
  const data = join(dir, 'origin');
  const created = await run(['token', 'create', '--data', data]);
  const token = created.stdout.trim().split('\n').at(-1)!;
  proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'origin', '--data', data, '--port', '0', '--json'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`origin did not start: ${err}`)), 20000);
    const tick = setInterval(() => {
      const m = /"url": "([^"]+)"/.exec(out);
      if (m) {
        clearInterval(tick);
        clearTimeout(t);
        resolve(m[1]!);
      }
    }, 50);
  });
  assert.ok(existsSync(join(data, 'keys', 'modelcdn-ed25519.key')), 'key created on first run');

  const src = join(dir, 'model');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'model.json'), JSON.stringify({ format: 'graph-model', weights: Array.from({ length: 500 }, (_, i) => i) }));
  writeFileSync(join(src, 'sub', 'weights.bin'), Buffer.alloc(100_000, 3));
  const p = await run(['publish', src, '--name', 'cli-model', '--version', '1', '--token', token, '--server', url, '--json']);
  assert.equal(p.code, 0, p.stderr);
  const res = JSON.parse(p.stdout) as { job: { status: string }; files: { path: string }[] };
  assert.equal(res.job.status, 'done');
  assert.deepEqual(res.files.map((f) => f.path).sort(), ['model.json', 'sub/weights.bin']);
  const env = await (await fetch(`${url}/v1/models/cli-model/versions/1/manifest`)).json();
  const pk = await (await fetch(`${url}/.well-known/modelcdn/public-key`)).json();
  const m = verifyManifestEnvelope(env, (pk as { publicKey: string }).publicKey);
  assert.equal(m.files.find((f) => f.path === 'sub/weights.bin')!.sha256, sha256Hex(Buffer.alloc(100_000, 3)));

  const bad = await run(['publish', src, '--name', 'cli-model', '--version', '2', '--token', 'mcdn_wrong', '--server', url]);
  assert.equal(bad.code, 6, 'auth exit code');
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^error: .*not valid/);
  const dup = await run(['publish', src, '--name', 'cli-model', '--version', '1', '--token', token, '--server', url]);
  assert.equal(dup.code, 8, 'conflict exit code');
  const noServer = await run(['publish', src, '--name', 'x', '--version', '1', '--token', token]);
  assert.equal(noServer.code, process.env['MODELCDN_SERVER'] ? noServer.code : 2);
  assert.equal((await run(['publish', src, '--name', '../x', '--version', '1', '--token', token, '--server', url])).code, 2);
  assert.equal((await run(['publish', join(dir, 'missing'), '--name', 'x', '--version', '1', '--token', token, '--server', url])).code, 4);

  proc.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => proc!.once('exit', (c) => r(c)));
  assert.equal(code, 0, err);
  assert.match(err, /origin stopped/);
});
