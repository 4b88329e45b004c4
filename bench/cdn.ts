/**
 * `npm run bench:cdn` — the delivery network on loopback, side by side in one run:
 *  1. cache-hit throughput of the edge for a 256 MB blob vs nginx (Debian package, `sendfile on`,
 *     started here on a free loopback port with a temp config) serving the same file; the same
 *     external client (curl -o /dev/null) for both, alternating runs; target ≥ 0.8x nginx's GB/s.
 *     Edge A has its RAM tier on (the hot blob is served from a verified in-memory copy), edge B is
 *     disk-only (--memory-cache 0); both are reported;
 *  2. cold-miss time to first byte at edge B vs the origin's own TTFB (target ≤ origin + 20 ms);
 *  3. 100 concurrent cold requests for one blob → requests that reach the origin (target exactly 1),
 *     counted by a small counting proxy between edge and origin;
 *  4. a generated 1 GB safetensors model (FP32 weights ~ N(0, σ²)) published on the origin and pulled
 *     through an edge whose upstream is the origin itself (no counting proxy in the path) by a client
 *     in a fresh process (bench/pull-run.ts: its CPU and heap are its own; start-up not timed), with
 *     verification on (cold edge packed, warm edge packed, warm edge raw), target ≥ 400 MB/s; each warm
 *     pull is the median of --pull-runs client processes (default 3);
 *  5. the peak RSS (VmHWM) of each server process: origin, edge, nginx worker.
 * Origin and edge run as `modelcdn origin` / `modelcdn edge` child processes; everything lives in a
 * temp dir removed at the end. Options (--help): --size 1GB (model), --blob 256MB, --reps 5, --pull-runs 3, --keep,
 * --pull-only (section 4 alone: origin, one edge, the client).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatBytes, parseBytes, table } from '../src/cli/output.ts';
import { syntheticWeights } from '../src/codec/synth.ts';
import { writeSafetensors } from '../src/formats/safetensors.ts';
import { FsBlobStore } from '../src/store/index.ts';
import { dataPaths } from '../src/cdn/origin/data-dir.ts';
import { collectFiles, publish } from '../src/cdn/origin/publish-client.ts';
import type { pull } from '../src/cdn/client/index.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const PULL_RUN = fileURLToPath(new URL('./pull-run.ts', import.meta.url));
const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '1GB' },
    blob: { type: 'string', default: '256MB' },
    reps: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
    'proxy-target': { type: 'string' },
    'pull-only': { type: 'boolean', default: false },
    'pull-runs': { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: npm run bench:cdn -- [--size 1GB] [--blob 256MB] [--reps 5] [--pull-runs 3] [--pull-only] [--keep]\n' +
      '  --size       generated model for the pull section (default 1GB)\n' +
      '  --blob       blob for the cache-hit and nginx comparison (default 256MB)\n' +
      '  --reps       runs per cache-hit measurement, median reported (default 5)\n' +
      '  --pull-runs  client processes per warm-edge pull, median reported (default 3; the cold edge is pulled once)\n' +
      '  --pull-only  only the pull section (origin, one edge, the client)\n' +
      '  --keep       keep the temp directory\n',
  );
  process.exit(0);
}
const PULL_RUNS = Math.max(1, Number(args['pull-runs']));
const MODEL_BYTES = parseBytes(args.size!);
const BLOB_BYTES = parseBytes(args.blob!);
const REPS = Math.max(1, Number(args.reps));

const log = (m: string) => process.stderr.write(`[bench:cdn] ${m}\n`);
const children: ChildProcess[] = [];

function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used, in ms (from /proc, 100 Hz ticks). */
function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** Start a modelcdn command that prints its --json result (with `url`) and keeps serving. */
async function startCli(cmd: string[], name: string, script = MAIN): Promise<{ child: ChildProcess; url: string }> {
  // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to every server process: for profiling
  const nodeArgs = process.env['BENCH_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...cmd, ...(script === MAIN ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()).length > 1e5 && (err = err.slice(-5e4)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      try {
        resolve((JSON.parse(out) as { url: string }).url);
      } catch {
        // incomplete JSON
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${err.slice(-2000)}`)));
  });
  return { child, url };
}

/** curl's download speed (bytes/s) for a URL, body discarded. */
function curlSpeed(url: string): number {
  const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download} %{http_code} %{size_download}', url], { encoding: 'utf8' });
  const [speed, code, size] = out.trim().split(' ');
  if (code !== '200') throw new Error(`curl ${url}: HTTP ${code}`);
  void size;
  return Number(speed);
}

/** Time to first body byte of a GET (ms); the rest of the body is read and discarded. */
function ttfb(url: string): Promise<{ ms: number; total: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let first = -1;
        let n = 0;
        res.on('data', (c: Buffer) => {
          if (first < 0) first = performance.now() - t0;
          n += c.length;
        });
        res.on('end', () => (res.statusCode === 200 ? resolve({ ms: first, total: n }) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * A counting HTTP proxy between edge A and the origin (run as its own process: this file with
 * --proxy-target URL): how many blob GETs really reach the origin. GET /__counts returns them.
 */
async function runProxy(target: string): Promise<void> {
  const t = new URL(target);
  const blobGets: Record<string, number> = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    if (req.url === '/__counts') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(blobGets));
      return;
    }
    const m = /^\/v1\/blobs\/([0-9a-f]{64})/.exec(req.url ?? '');
    if (m && req.method === 'GET') blobGets[m[1]!] = (blobGets[m[1]!] ?? 0) + 1;
    const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` }) + '\n');
  process.on('SIGTERM', () => process.exit(0));
}

async function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(JSON.parse(s) as T));
      })
      .on('error', reject);
  });
}

async function writeRandomFile(path: string, size: number): Promise<string> {
  const fh = await open(path, 'w');
  const h = createHash('sha256');
  for (let off = 0; off < size; ) {
    const n = Math.min(8 << 20, size - off);
    const b = randomBytes(n);
    h.update(b);
    await fh.write(b, 0, n, off);
    off += n;
  }
  await fh.close();
  return h.digest('hex');
}

type Server = { child: ChildProcess; url: string };

/** The files of the benchmark model's manifest, as the edge serves it. */
async function manifestFiles(server: string): Promise<{ sha256: string; size: number }[]> {
  const env = await getJson<{ payload: string }>(`${server}/v1/models/bench-model/versions/1.0/manifest`);
  return (JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { files: { sha256: string; size: number }[] }).files;
}

/**
 * Section 4: a generated FP32 safetensors model published on the origin and pulled by the client
 * through `edge` (cold edge, then warm; packed route, then raw), sha256 checked. Reports wall MB/s
 * and MB per CPU-second of the three processes together (client, edge, origin).
 */
async function pullSection(root: string, origin: Server, originData: string, edge: Server, rows: (string | number)[][]): Promise<void> {
  const modelDir = join(root, 'model');
  await mkdir(modelDir);
  const nTensors = Math.max(1, Math.round(MODEL_BYTES / (64 << 20)));
  const perTensor = Math.floor(MODEL_BYTES / nTensors / 4);
  log(`generating a ${formatBytes(nTensors * perTensor * 4)} safetensors model (${nTensors} FP32 tensors)`);
  await writeSafetensors(
    join(modelDir, 'model.safetensors'),
    Array.from({ length: nTensors }, (_, i) => ({ name: `layers.${i}.weight`, dtype: 'F32' as const, shape: [perTensor], data: syntheticWeights(perTensor, i + 1, 0.02) })),
  );
  const token = execFileSync(process.execPath, ['--import', 'tsx', MAIN, 'token', 'create', '--data', originData], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const tp = performance.now();
  const pub = await publish({ server: origin.url, token, name: 'bench-model', version: '1.0', files: await collectFiles([modelDir]) });
  log(`published in ${((performance.now() - tp) / 1000).toFixed(1)} s (job ${pub.job?.status})`);
  const home = join(root, 'client-home');
  for (const [label, n, raw] of [
    ['cold edge', 1, false],
    ['warm edge', 2, false],
    ['warm edge', 3, true],
  ] as const) {
    const out = join(root, `pulled-${n}`);
    if (raw) {
      // the warm raw pull needs the raw blob in the edge cache (the earlier pulls fetched the packed one)
      for (const f of await manifestFiles(edge.url)) await ttfb(`${edge.url}/v1/blobs/${f.sha256}`);
    }
    // the client runs in its own process, as `modelcdn pull` would (its time excludes start-up);
    // warm-edge pulls run twice in that process: a fresh CLI process, then a warm long-lived client.
    // A warm edge is pulled by PULL_RUNS such processes and the median of each is reported (the cold
    // edge is cold only once)
    const reps = label === 'warm edge' ? 2 : 1;
    const runs = label === 'warm edge' ? PULL_RUNS : 1;
    const byRep: (Awaited<ReturnType<typeof pull>> & { cpuSeconds: number; edgeS: number; originS: number })[][] = Array.from({ length: reps }, () => []);
    for (let run = 0; run < runs; run++) {
      await rm(out, { recursive: true, force: true });
      await rm(`${home}-${n}`, { recursive: true, force: true });
      execFileSync('sync'); // untimed: earlier pulls' dirty pages are flushed, so a pull does not pay for their writeback
      const e0 = cpuMs(edge.child.pid);
      const o0 = cpuMs(origin.child.pid);
      const lines = execFileSync(process.execPath, ['--import', 'tsx', PULL_RUN, 'bench-model@1.0', edge.url, out, `${home}-${n}`, raw ? 'raw' : 'packed', String(reps)], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Awaited<ReturnType<typeof pull>> & { cpuSeconds: number });
      const edgeS = (cpuMs(edge.child.pid) - e0) / 1000 / reps;
      const originS = (cpuMs(origin.child.pid) - o0) / 1000 / reps;
      lines.forEach((r, i) => byRep[i]!.push({ ...r, edgeS, originS }));
    }
    byRep.forEach((all, i) => {
      const sorted = [...all].sort((a, b) => a.seconds - b.seconds);
      const r = sorted[sorted.length >> 1]!;
      const allCpu = r.cpuSeconds + r.edgeS + r.originS;
      const mbps = r.totalBytes / r.seconds / 1e6;
      const route = r.files.map((f) => f.route).join(',');
      const who = (i === 0 ? 'fresh client process' : 'same client process again') + (runs > 1 ? `, median of ${runs}` : '');
      rows.push([
        `pull ${formatBytes(r.totalBytes)} model through the ${label} (${route}, ${formatBytes(r.fetchedBytes)} sent, sha256 checked; ${who})`,
        `${mbps.toFixed(0)} MB/s`,
        `${r.seconds.toFixed(1)} s`,
        `${(r.totalBytes / 1e6 / allCpu).toFixed(0)} MB/CPU-s`,
        // the target is for pulls through an edge that holds the model; the first pull through a cold
        // edge measures the fill path (origin, edge and client on the same two cores), whose target
        // is the cold-miss TTFB row — reported, not judged
        label === 'cold edge' ? '– (fill path)' : '≥ 400 MB/s',
        label === 'cold edge' ? '-' : mbps >= 400 ? 'PASS' : 'FAIL',
      ]);
      const each = all.map((x) => (x.totalBytes / x.seconds / 1e6).toFixed(0)).join(', ');
      log(`${label} ${route} (${who}): ${mbps.toFixed(0)} MB/s [runs: ${each}]; CPU s — client ${r.cpuSeconds.toFixed(2)}, edge ${r.edgeS.toFixed(2)}, origin ${r.originS.toFixed(2)} (edge/origin averaged over the ${reps} pull(s) of that process)`);
    });
    await rm(out, { recursive: true, force: true });
  }
  // the same raw blob fetched by standard tools from the same warm edge into a file on the same disk:
  // what this machine allows for "download 1 GB and write it" (with and without streaming verification)
  const file = (await manifestFiles(edge.url))[0]!;
  const url = `${edge.url}/v1/blobs/${file.sha256}`;
  const dest = join(root, 'curl.out');
  for (const [label, cmd] of [
    ['curl -o FILE (no verification)', `curl -s -o '${dest}' '${url}'`],
    ['curl | tee FILE | openssl dgst -sha256 (verified while streaming)', `curl -s '${url}' | tee '${dest}' | openssl dgst -sha256 -r`],
  ] as const) {
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      execFileSync('sync');
      const t0 = performance.now();
      let outText = '';
      try {
        outText = execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
      } catch (e) {
        log(`baseline skipped (${label}): ${(e as Error).message}`);
        break;
      }
      const secs = (performance.now() - t0) / 1000;
      if (cmd.includes('openssl') && !outText.startsWith(file.sha256)) throw new Error(`baseline digest ${outText.trim()} is not ${file.sha256}`);
      best = Math.min(best, secs);
      await rm(dest, { force: true });
    }
    if (Number.isFinite(best)) rows.push([`  baseline on the same blob and disk: ${label}, best of 2`, `${(file.size / 1e6 / best).toFixed(0)} MB/s`, `${best.toFixed(1)} s`, '-', '-', '-']);
  }
}

/** `--pull-only`: just section 4 (origin + one edge + the client), for work on the pull path. */
async function pullOnly(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'mcdn-bench-pull-'));
  const rows: (string | number)[][] = [];
  try {
    const originData = join(root, 'origin');
    const origin = await startCli(['origin', '--data', originData, '--port', '0', '--encodings', 'none'], 'origin');
    const edge = await startCli(['edge', '--origin', origin.url, '--cache-dir', join(root, 'edge-c'), '--cache-size', '8GB', '--port', '0', '--region', 'bench-c', '--demand-interval', '0'], 'edge-c');
    await pullSection(root, origin, originData, edge, rows);
    process.stdout.write('\nmodelcdn pull benchmark (loopback, 2 shared cores)\n\n');
    process.stdout.write(table(['measure', 'client', 'time', 'cost (client+edge+origin)', 'target', 'result'], rows) + '\n');
  } finally {
    await stopChildren();
    if (!args.keep) await rm(root, { recursive: true, force: true });
  }
}

async function stopChildren(): Promise<void> {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          c.kill('SIGKILL');
          r(undefined);
        }, 5000);
        c.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
  }
}

async function main(): Promise<void> {
  if (!existsSync('/usr/sbin/nginx')) throw new Error('nginx is not installed (apt-get install nginx-light)');
  const root = await mkdtemp(join(tmpdir(), 'mcdn-bench-cdn-'));
  log(`work dir ${root}`);
  const rows: (string | number)[][] = [];
  const rss: (string | number)[][] = [];
  let nginx: ChildProcess | undefined;
  try {
    // ---- inputs ----
    const www = join(root, 'www');
    await mkdir(www);
    log(`generating a ${formatBytes(BLOB_BYTES)} blob and 10 × 16 MB cold-miss blobs`);
    const blobFile = join(www, 'blob.bin');
    const blobHash = await writeRandomFile(blobFile, BLOB_BYTES);
    // nginx workers run as an unprivileged user when started by root: let them read the file
    await chmod(root, 0o755);
    await chmod(www, 0o755);
    await chmod(blobFile, 0o644);
    const originData = join(root, 'origin');
    const store = new FsBlobStore(dataPaths(originData).blobs);
    await store.put(createReadStream(blobFile, { highWaterMark: 1 << 20 }), blobHash);
    const coldHashes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const p = join(root, `cold-${i}.bin`);
      const h = await writeRandomFile(p, 16 << 20);
      await store.put(createReadStream(p, { highWaterMark: 1 << 20 }), h);
      coldHashes.push(h);
      await rm(p);
    }

    // ---- servers ----
    const origin = await startCli(['origin', '--data', originData, '--port', '0', '--encodings', 'none'], 'origin');
    log(`origin ${origin.url}`);
    const proxy = await startCli(['--proxy-target', origin.url], 'proxy', fileURLToPath(import.meta.url));
    const edge = await startCli(['edge', '--origin', proxy.url, '--cache-dir', join(root, 'edge'), '--cache-size', '8GB', '--port', '0', '--region', 'bench', '--demand-interval', '0'], 'edge');
    log(`edge A ${edge.url} (RAM tier on; upstream through counting proxy ${proxy.url})`);
    const edgeB = await startCli(['edge', '--origin', origin.url, '--cache-dir', join(root, 'edge-b'), '--cache-size', '8GB', '--memory-cache', '0', '--port', '0', '--region', 'bench-b', '--demand-interval', '0'], 'edge-b');
    log(`edge B ${edgeB.url} (disk tier only; upstream: the origin directly)`);
    const nport = await freePort();
    await mkdir(join(root, 'nginx', 'tmp'), { recursive: true });
    const conf = join(root, 'nginx', 'nginx.conf');
    await writeFile(
      conf,
      `daemon off;\nworker_processes 1;\npid ${join(root, 'nginx', 'nginx.pid')};\nerror_log ${join(root, 'nginx', 'error.log')};\n` +
        `events { worker_connections 1024; }\nhttp {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n` +
        ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(root, 'nginx', 'tmp')};\n`).join('') +
        `  server { listen 127.0.0.1:${nport}; root ${www}; }\n}\n`,
    );
    nginx = spawn('/usr/sbin/nginx', ['-c', conf, '-p', join(root, 'nginx')], { stdio: 'ignore' });
    children.push(nginx);
    const nginxUrl = `http://127.0.0.1:${nport}`;
    for (let i = 0; i < 50; i++) {
      try {
        await ttfb(`${nginxUrl}/nonexistent`).catch((e: Error) => {
          if (!/HTTP 404/.test(e.message)) throw e;
        });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    log(`nginx ${nginxUrl} (sendfile on)`);

    // ---- 2. cold-miss TTFB: edge (cold) vs origin (direct) ----
    const edgeTtfb: number[] = [];
    const originTtfb: number[] = [];
    for (const h of coldHashes.slice(0, 9)) {
      originTtfb.push((await ttfb(`${origin.url}/v1/blobs/${h}`)).ms);
      edgeTtfb.push((await ttfb(`${edgeB.url}/v1/blobs/${h}`)).ms);
    }
    const eT = median(edgeTtfb);
    const oT = median(originTtfb);
    rows.push(['cold-miss TTFB, 16 MB blob, edge B (median of 9)', `${eT.toFixed(1)} ms`, `origin ${oT.toFixed(1)} ms`, `${eT - oT >= 0 ? '+' : ''}${(eT - oT).toFixed(1)} ms`, '≤ +20 ms', eT <= oT + 20 ? 'PASS' : 'FAIL']);

    // ---- 3. 100 concurrent cold requests → origin fetches ----
    const coalesce = coldHashes[9]!;
    const got = await Promise.all(Array.from({ length: 100 }, () => ttfb(`${edge.url}/v1/blobs/${coalesce}`)));
    const okAll = got.every((g) => g.total === 16 << 20);
    const originFetches = (await getJson<Record<string, number>>(`${proxy.url}/__counts`))[coalesce] ?? 0;
    rows.push(['100 concurrent cold requests → origin GETs', String(originFetches), '-', '-', 'exactly 1', originFetches === 1 && okAll ? 'PASS' : 'FAIL']);

    // ---- 1. hit throughput: edge vs nginx, same file, curl, alternating ----
    log('warming both edges with the 256 MB blob');
    for (let i = 0; i < 3; i++) await ttfb(`${edge.url}/v1/blobs/${blobHash}`); // fill + 2 hits: RAM tier loads it
    await ttfb(`${edgeB.url}/v1/blobs/${blobHash}`);
    await new Promise((r) => setTimeout(r, 2000));
    curlSpeed(`${nginxUrl}/blob.bin`);
    const nginxWorkerPid = (() => {
      try {
        return Number(execFileSync('pgrep', ['-P', String(nginx!.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
      } catch {
        return undefined;
      }
    })();
    const ramS: number[] = [];
    const diskS: number[] = [];
    const nS: number[] = [];
    const cpu = { nginx: 0, ram: 0, disk: 0 };
    const timed = (pid: number | undefined, key: keyof typeof cpu, url: string) => {
      const c0 = cpuMs(pid);
      const v = curlSpeed(url);
      cpu[key] += cpuMs(pid) - c0;
      return v;
    };
    for (let i = 0; i < REPS; i++) {
      nS.push(timed(nginxWorkerPid, 'nginx', `${nginxUrl}/blob.bin`));
      ramS.push(timed(edge.child.pid, 'ram', `${edge.url}/v1/blobs/${blobHash}`));
      diskS.push(timed(edgeB.child.pid, 'disk', `${edgeB.url}/v1/blobs/${blobHash}`));
    }
    const nG = median(nS) / 1e9;
    const perGb = (ms: number) => `${(ms / ((REPS * BLOB_BYTES) / 1e9)).toFixed(0)} ms`;
    for (const [label, xs, key] of [
      ['RAM tier (hot blob)', ramS, 'ram'],
      ['disk tier', diskS, 'disk'],
    ] as const) {
      const g = median(xs) / 1e9;
      rows.push([`cache-hit throughput, ${formatBytes(BLOB_BYTES)} blob, edge ${label} (median of ${REPS})`, `${g.toFixed(2)} GB/s`, `nginx ${nG.toFixed(2)} GB/s`, `${(g / nG).toFixed(2)}x`, '≥ 0.8x', g / nG >= 0.8 ? 'PASS' : 'FAIL']);
      rows.push([`  server CPU per GB served, edge ${label}`, perGb(cpu[key]), `nginx ${perGb(cpu.nginx)}`, `${(cpu[key] / cpu.nginx).toFixed(1)}x`, '-', '-']);
    }
    log(`GB/s per run — nginx: ${nS.map((x) => (x / 1e9).toFixed(2)).join(' ')}; edge RAM: ${ramS.map((x) => (x / 1e9).toFixed(2)).join(' ')}; edge disk: ${diskS.map((x) => (x / 1e9).toFixed(2)).join(' ')}`);

    // ---- 4. a generated model published and pulled through its own edge (upstream: the origin) ----
    const edgeC = await startCli(['edge', '--origin', origin.url, '--cache-dir', join(root, 'edge-c'), '--cache-size', '8GB', '--port', '0', '--region', 'bench-c', '--demand-interval', '0'], 'edge-c');
    await pullSection(root, origin, originData, edgeC, rows);

    // ---- 5. peak RSS ----
    const nginxWorker = (() => {
      try {
        return Number(execFileSync('pgrep', ['-P', String(nginx!.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
      } catch {
        return undefined;
      }
    })();
    rss.push(['origin (modelcdn origin)', `${peakRssMb(origin.child.pid).toFixed(0)} MB`]);
    rss.push(['edge A (modelcdn edge, 512 MiB RAM tier)', `${peakRssMb(edge.child.pid).toFixed(0)} MB`]);
    rss.push(['edge B (modelcdn edge --memory-cache 0)', `${peakRssMb(edgeB.child.pid).toFixed(0)} MB`]);
    rss.push(['nginx master', `${peakRssMb(nginx.pid).toFixed(0)} MB`]);
    rss.push(['nginx worker', `${peakRssMb(nginxWorker).toFixed(0)} MB`]);
    const stats = await new Promise<string>((resolve) => {
      http.get(`${edge.url}/v1/edge/stats`, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      });
    });
    const st = (JSON.parse(stats) as { cache: { hits: number; memoryHits: number; misses: number; coalesced: number; upstreamFetches: number } }).cache;

    process.stdout.write('\nmodelcdn CDN benchmark (loopback, 2 shared cores)\n\n');
    process.stdout.write(table(['measure', 'edge / client', 'baseline', 'ratio', 'target', 'result'], rows) + '\n\n');
    process.stdout.write(table(['server', 'peak RSS (VmHWM)'], rss) + '\n\n');
    process.stdout.write(`edge A counters: ${st.hits} hits (${st.memoryHits} from RAM), ${st.misses} misses, ${st.coalesced} coalesced, ${st.upstreamFetches} upstream fetches\n`);
  } finally {
    await stopChildren();
    if (!args.keep) await rm(root, { recursive: true, force: true });
  }
}

(args['proxy-target'] ? runProxy(args['proxy-target']) : args['pull-only'] ? pullOnly() : main()).catch((e: unknown) => {
  process.stderr.write(`bench:cdn failed: ${(e as Error).stack ?? e}\n`);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(1);
});
