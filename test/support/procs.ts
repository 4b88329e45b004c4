/**
 * Start modelcdn servers as separate processes (the CLI, as an operator would run them) and stop
 * them. `startServerProcess` waits for the command's --json result on stdout and returns it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures.ts';

export interface ServerProcess<T> {
  info: T;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export const CLI = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export function cliArgs(args: string[]): string[] {
  return ['--import', 'tsx', CLI, ...args];
}

export async function startServerProcess<T = { url: string }>(args: string[], timeoutMs = 30_000): Promise<ServerProcess<T>> {
  const proc = spawn(process.execPath, cliArgs([...args, '--json']), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  const info = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${args[0]} did not start within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    proc.stdout!.on('data', (d) => {
      out += String(d);
      try {
        const v = JSON.parse(out) as T;
        clearTimeout(timer);
        resolve(v);
      } catch {
        // not a whole JSON document yet
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}: ${err}`));
    });
  });
  return { info, proc, stop };
}

/** Run a CLI command to completion; resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, cliArgs(args), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += String(d)));
    p.stderr.on('data', (d) => (stderr += String(d)));
    p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
