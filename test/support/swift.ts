/**
 * Starts a real one-node OpenStack Swift (Debian packages swift-proxy/-account/-container/-object
 * and memcached) with the s3api middleware and tempauth, on loopback ports, in a temp folder.
 * Used by the S3 BlobStore tests and benchmarks. `stop()` kills every process it started.
 * Credentials: access key `test:tester`, secret `testing`, region `us-east-1`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SwiftHandle {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
}

export function swiftAvailable(): boolean {
  return ['swift-proxy-server', 'swift-object-server', 'swift-ring-builder', 'memcached'].every(
    (b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0,
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export async function startSwift(): Promise<SwiftHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-swift-'));
  const dev = join(dir, 'srv');
  await mkdir(join(dev, 'd1'), { recursive: true });
  const [proxyPort, accountPort, containerPort, objectPort, memcachePort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  await writeFile(
    join(dir, 'swift.conf'),
    `[swift-hash]\nswift_hash_path_suffix = modelcdn-test\nswift_hash_path_prefix = modelcdn\n[storage-policy:0]\nname = gold\ndefault = yes\n`,
  );
  const common = `[DEFAULT]\nbind_ip = 127.0.0.1\nswift_dir = ${dir}\ndevices = ${dev}\nmount_check = false\nuser = root\nworkers = 0\nlog_name = swift\nlog_level = WARNING\n`;
  const server = (kind: string, port: number) =>
    `${common}bind_port = ${port}\n\n[pipeline:main]\npipeline = ${kind}-server\n\n[app:${kind}-server]\nuse = egg:swift#${kind}\n`;
  await writeFile(join(dir, 'account-server.conf'), server('account', accountPort));
  await writeFile(join(dir, 'container-server.conf'), server('container', containerPort));
  await writeFile(join(dir, 'object-server.conf'), server('object', objectPort));
  await writeFile(
    join(dir, 'proxy-server.conf'),
    `${common}bind_port = ${proxyPort}\n\n[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck cache listing_formats s3api tempauth copy slo dlo proxy-server\n\n` +
      `[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n` +
      `[filter:catch_errors]\nuse = egg:swift#catch_errors\n[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n` +
      `[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:${memcachePort}\n[filter:listing_formats]\nuse = egg:swift#listing_formats\n` +
      `[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n` +
      `[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n` +
      `[filter:copy]\nuse = egg:swift#copy\n[filter:slo]\nuse = egg:swift#slo\n[filter:dlo]\nuse = egg:swift#dlo\n`,
  );
  for (const [kind, port] of [['account', accountPort], ['container', containerPort], ['object', objectPort]] as const) {
    const b = join(dir, `${kind}.builder`);
    for (const args of [[b, 'create', '8', '1', '1'], [b, 'add', `r1z1-127.0.0.1:${port}/d1`, '100'], [b, 'rebalance']]) {
      const r = spawnSync('swift-ring-builder', args, { encoding: 'utf8' });
      if (r.status !== 0 && r.status !== 1) throw new Error(`swift-ring-builder ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    }
  }
  const procs: ChildProcess[] = [];
  const logs: string[] = [];
  const start = (cmd: string, args: string[]) => {
    // own process group, so stop() ends the server and anything it forked
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    p.stdout?.on('data', (d) => logs.push(String(d)));
    p.stderr?.on('data', (d) => logs.push(String(d)));
    procs.push(p);
  };
  start('memcached', ['-l', '127.0.0.1', '-p', String(memcachePort), '-U', '0', '-u', 'root', '-m', '64']);
  start('swift-account-server', [join(dir, 'account-server.conf')]);
  start('swift-container-server', [join(dir, 'container-server.conf')]);
  start('swift-object-server', [join(dir, 'object-server.conf')]);
  start('swift-proxy-server', [join(dir, 'proxy-server.conf')]);
  const stop = async () => {
    const group = (p: ChildProcess, sig: NodeJS.Signals) => {
      try {
        if (p.pid) process.kill(-p.pid, sig);
      } catch {
        // already gone
      }
    };
    for (const p of procs) group(p, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const p of procs) group(p, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${proxyPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/healthcheck`);
      if (r.ok) {
        // the backends can lag the proxy by a moment: wait until an authenticated account HEAD works
        const a = await fetch(`${endpoint}/auth/v1.0`, { headers: { 'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing' } });
        const tok = a.headers.get('x-auth-token');
        const url = a.headers.get('x-storage-url');
        if (tok && url) {
          // every backend must answer, not just the proxy: a container and an object round trip
          const hdr = { 'X-Auth-Token': tok };
          const c = await fetch(`${url}/readiness`, { method: 'PUT', headers: hdr });
          const o = c.status < 300 ? await fetch(`${url}/readiness/probe`, { method: 'PUT', headers: hdr, body: 'ok' }) : c;
          const g = o.status < 300 ? await fetch(`${url}/readiness/probe`, { headers: hdr }) : o;
          if (g.status === 200 && (await g.text()) === 'ok') {
            await fetch(`${url}/readiness/probe`, { method: 'DELETE', headers: hdr });
            await fetch(`${url}/readiness`, { method: 'DELETE', headers: hdr });
            break;
          }
        }
      }
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      await stop();
      throw new Error(`Swift did not start: ${logs.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { endpoint, accessKeyId: 'test:tester', secretAccessKey: 'testing', region: 'us-east-1', stop };
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}` && existsSync('/usr/bin/swift-proxy-server')) {
  const t0 = Date.now();
  const h = await startSwift();
  console.log(`swift up at ${h.endpoint} in ${Date.now() - t0} ms`);
  await h.stop();
}
