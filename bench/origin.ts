/**
 * Origin blob-serving throughput on loopback (issue 6 §1: ≥ 1 GB/s full file for a 64 MiB blob).
 * Serves one random 64 MiB blob from three servers in this process and downloads it with curl (a
 * separate process, so the client does not share the server's thread): the modelcdn origin
 * (node:http, positioned reads into reused 1 MiB buffers), fastify 5 replying with fs.createReadStream at its default 64 KiB
 * chunks, and plain node:http with the same default stream. Prints median and best GB/s of N runs.
 * Usage: node --import tsx bench/origin.ts [--runs 9] [--mib 64]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { startOrigin } from '../src/cdn/origin/server.ts';
import { FsBlobStore } from '../src/store/index.ts';
import { table } from '../src/cli/output.ts';

const execFileP = promisify(execFile);
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', 9);
const MIB = arg('mib', 64);

/**
 * Download RUNS times; returns sorted GB/s and the server's CPU seconds per GB (this process serves,
 * curl is another process), whose inverse is the one-core ceiling — less sensitive to a busy machine.
 */
async function curlGBps(url: string): Promise<{ speeds: number[]; cpuSecPerGB: number }> {
  const out: number[] = [];
  await execFileP('curl', ['-s', '-o', '/dev/null', url]); // warm the page cache and connections
  const c0 = process.cpuUsage();
  for (let i = 0; i < RUNS; i++) {
    const { stdout } = await execFileP('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
    const [size, t] = stdout.trim().split(' ').map(Number);
    if (size !== MIB * 1024 * 1024) throw new Error(`short download from ${url}: ${size}`);
    out.push(size! / 1e9 / t!);
  }
  const c = process.cpuUsage(c0);
  return { speeds: out.sort((a, b) => a - b), cpuSecPerGB: (c.user + c.system) / 1e6 / ((RUNS * MIB * 1024 * 1024) / 1e9) };
}

const listen = (s: Server) => new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));

const dir = mkdtempSync(join(tmpdir(), 'mcdn-bench-origin-'));
try {
  const origin = await startOrigin({ dataDir: join(dir, 'data'), port: 0 });
  const { hash } = await origin.store.put(randomBytes(MIB * 1024 * 1024));
  const path = (origin.store as FsBlobStore).pathOf(hash);

  const fastify = Fastify();
  fastify.get('/blob', (_req, reply) => {
    reply.header('content-type', 'application/octet-stream');
    return reply.send(createReadStream(path));
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  const fastifyUrl = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}/blob`;

  const plain = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    createReadStream(path).pipe(res);
  });
  const plainUrl = `${await listen(plain)}/blob`;

  const rows: (string | number)[][] = [];
  const results: Record<string, { median: number; best: number; cpu: number }> = {};
  for (const [name, url] of [
    ['modelcdn origin /v1/blobs (node:http, reused 1 MiB buffers)', `${origin.url}/v1/blobs/${hash}`],
    ['fastify 5 + fs.createReadStream (64 KiB default)', fastifyUrl],
    ['node:http + fs.createReadStream (64 KiB default)', plainUrl],
  ] as const) {
    const { speeds: r, cpuSecPerGB } = await curlGBps(url);
    results[name] = { median: r[Math.floor(r.length / 2)]!, best: r[r.length - 1]!, cpu: cpuSecPerGB };
  }
  const base = results['fastify 5 + fs.createReadStream (64 KiB default)']!.median;
  for (const [name, r] of Object.entries(results)) {
    rows.push([name, r.median.toFixed(2), r.best.toFixed(2), (r.median / base).toFixed(2) + 'x', r.cpu.toFixed(2), (1 / r.cpu).toFixed(2)]);
  }
  process.stdout.write(`${MIB} MiB blob, full-file GET over loopback, curl client, ${RUNS} runs\n`);
  process.stdout.write(table(['server', 'median GB/s', 'best GB/s', 'vs fastify', 'server CPU s/GB', '1-core ceiling GB/s'], rows) + '\n');
  process.stdout.write(`load average at the end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (on a busy box, trust the CPU column)\n`);
  await fastify.close();
  plain.close();
  await origin.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
