/**
 * Child process of bench/cdn.ts: `pull` in a fresh process (as a user runs it), so the client's
 * CPU time and heap are its own and not the benchmark's (which generated and published a 1 GB
 * model). With REPS > 1 it pulls again into fresh directories in the same process — what a
 * long-lived client (an inference server fetching updates) sees once warm. Prints one JSON line per
 * pull: the pull result plus CPU seconds (user + system, all threads; start-up not included).
 * Usage: node --import tsx bench/pull-run.ts REF SERVER OUT_DIR HOME packed|raw [REPS]
 */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { pull } from '../src/cdn/client/index.ts';

const [ref, server, outDir, home, mode, reps] = process.argv.slice(2);
for (let i = 0; i < Math.max(1, Number(reps ?? 1)); i++) {
  const out = i === 0 ? outDir! : `${outDir}-again-${i}`;
  const h = i === 0 ? home! : `${home}-again-${i}`;
  if (i > 0) execFileSync('sync'); // untimed, as before the first pull (bench/cdn.ts)
  const c0 = process.cpuUsage();
  const r = await pull({ ref: ref!, server: server!, outDir: out, home: h, parallel: 4, noPacked: mode === 'raw' });
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ ...r, cpuSeconds: (c.user + c.system) / 1e6 }) + '\n');
  if (i > 0) await rm(out, { recursive: true, force: true }); // the first one is checked and removed by the caller
  if (i > 0) await rm(h, { recursive: true, force: true });
}
