/**
 * Child process of bench/cdn.ts: one `pull` in a fresh process (as a user runs it), so the client's
 * CPU time and heap are its own and not the benchmark's (which generated and published a 1 GB
 * model). Prints the pull result plus CPU seconds (user + system, all threads, excluding Node/tsx
 * start-up) as JSON on stdout. Not a user-facing tool.
 * Usage: node --import tsx bench/pull-run.ts REF SERVER OUT_DIR HOME [raw]
 */
import { pull } from '../src/cdn/client/index.ts';

const [ref, server, outDir, home, mode] = process.argv.slice(2);
const c0 = process.cpuUsage();
const r = await pull({ ref: ref!, server: server!, outDir: outDir!, home: home!, parallel: 4, noPacked: mode === 'raw' });
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ...r, cpuSeconds: (c.user + c.system) / 1e6 }) + '\n');
