/**
 * Runs a real nginx (Debian package) for tests and benchmarks: writes a main config around a given
 * `http`-context config into a temp prefix, starts `nginx -g 'daemon off;'` on loopback, waits for
 * the port, and stops it. `renderDeployConfig` turns deploy/nginx.conf into a test config by
 * swapping its origin address, listen port and cache folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures.ts';

export interface NginxHandle {
  url: string;
  port: number;
  prefix: string;
  accessLog(): Promise<string>;
  stop(): Promise<void>;
}

export function nginxBinary(): string | undefined {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (spawnSync(p, ['-v']).status === 0) return p;
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export function renderDeployConfig(opts: { origin: string; port: number; cacheDir: string }): string {
  const text = readFileSync(join(REPO_ROOT, 'deploy', 'nginx.conf'), 'utf8');
  return text
    .replace('/var/cache/nginx/modelcdn', opts.cacheDir)
    .replace(/server 127\.0\.0\.1:8080;/, `server ${opts.origin};`)
    .replace(/listen 8090;/, `listen 127.0.0.1:${opts.port};`);
}

/** Start nginx with `httpConfig` (may contain the placeholder PORT, replaced by the chosen port). */
export async function startNginx(httpConfig: string | ((port: number, prefix: string) => string)): Promise<NginxHandle> {
  const bin = nginxBinary();
  if (!bin) throw new Error('nginx is not installed (apt-get install nginx)');
  const prefix = await mkdtemp(join(tmpdir(), 'mcdn-nginx-'));
  await mkdir(join(prefix, 'logs'), { recursive: true });
  const port = await freePort();
  const site = typeof httpConfig === 'function' ? httpConfig(port, prefix) : httpConfig.replaceAll('PORT', String(port));
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  const main = `${user}worker_processes 1;
error_log ${prefix}/logs/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log ${prefix}/logs/access.log;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy_temp;
  fastcgi_temp_path ${prefix}/fastcgi_temp;
  uwsgi_temp_path ${prefix}/uwsgi_temp;
  scgi_temp_path ${prefix}/scgi_temp;
  default_type application/octet-stream;
  ${site}
}
`;
  await writeFile(join(prefix, 'nginx.conf'), main);
  const proc: ChildProcess = spawn(bin, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => (stderr += String(d)));
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGQUIT');
      await new Promise((r) => setTimeout(r, 200));
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
    await rm(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port }, () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    prefix,
    accessLog: () => readFile(join(prefix, 'logs', 'access.log'), 'utf8').catch(() => ''),
    stop,
  };
}
