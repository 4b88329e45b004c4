/**
 * The `modelcdn edge` command as a separate process under 200 concurrent clients: every client gets
 * the right bytes, the origin is asked once, and the edge's peak RSS (VmHWM) stays bounded — memory
 * does not grow with clients × blob size because every response is streamed with backpressure.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomBlob, startTestOrigin, type TestOrigin } from './test-origin.ts';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
/** peak RSS allowed for the edge process serving 200 clients a 4 MiB blob (800 MiB sent) */
const MAX_PEAK_RSS_MB = 300;

let origin: TestOrigin;
let child: ChildProcess | undefined;
let dir: string;

function peakRssMb(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(s);
  return m ? Number(m[1]) / 1024 : NaN;
}

before(async () => {
  origin = await startTestOrigin();
  dir = await mkdtemp(join(tmpdir(), 'mcdn-edge-load-'));
});
after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

test('200 concurrent clients on one edge process: one origin fetch, right bytes, bounded memory', async (t) => {
  const data = randomBlob(4 << 20, 77);
  const h = origin.add(data);
  origin.pace = { chunk: 256 << 10, delayMs: 2 };
  child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'edge', '--origin', origin.url, '--cache-dir', join(dir, 'cache'), '--cache-size', '1GB', '--port', '0', '--json', '--demand-interval', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child!.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      try {
        resolve((JSON.parse(out) as { url: string }).url);
      } catch {
        // JSON not complete yet
      }
    });
    child!.once('exit', (code) => reject(new Error(`edge exited with ${code}: ${err}`)));
  });
  const baseline = peakRssMb(child.pid!);
  const agent = new http.Agent({ keepAlive: false, maxSockets: 1000 });
  const results = await Promise.all(
    Array.from(
      { length: 200 },
      () =>
        new Promise<string>((resolve, reject) => {
          http
            .get(`${url}/v1/blobs/${h}`, { agent }, (res) => {
              const hash = createHash('sha256');
              res.on('data', (c: Buffer) => hash.update(c));
              res.on('end', () => resolve(hash.digest('hex')));
              res.on('error', reject);
            })
            .on('error', reject);
        }),
    ),
  );
  origin.pace = { chunk: 0, delayMs: 0 };
  assert.ok(results.every((r) => r === h), 'every client got the verified bytes');
  assert.equal(origin.gets.get(h), 1, 'one origin fetch for 200 cold clients');
  // and 200 more from the warm cache
  const warm = await Promise.all(
    Array.from(
      { length: 200 },
      () =>
        new Promise<number>((resolve, reject) => {
          http
            .get(`${url}/v1/blobs/${h}`, { agent }, (res) => {
              let n = 0;
              res.on('data', (c: Buffer) => (n += c.length));
              res.on('end', () => resolve(n));
            })
            .on('error', reject);
        }),
    ),
  );
  assert.ok(warm.every((n) => n === data.length));
  const peak = peakRssMb(child.pid!);
  t.diagnostic(`edge peak RSS ${peak.toFixed(0)} MB (after startup ${baseline.toFixed(0)} MB) serving 400 × 4 MiB`);
  assert.ok(peak < MAX_PEAK_RSS_MB, `edge peak RSS ${peak.toFixed(0)} MB`);
  agent.destroy();
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
  assert.equal(code, 0, `edge exit code (stderr: ${err})`);
});
