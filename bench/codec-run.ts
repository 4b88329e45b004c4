/**
 * Child process of bench/codec.ts: runs one mcz pack or unpack in a fresh process and reports its
 * wall time (excluding Node/tsx start-up) and peak RSS as JSON on stdout. Not a user-facing tool.
 * Usage: node --import tsx bench/codec-run.ts pack|unpack IN OUT LEVEL REPS
 * With REPS > 1 the best time is reported (the first run also pays module loading and JIT warm-up).
 */
import { packFile, unpackFile } from '../src/codec/index.ts';

const [op, input, output, level, reps] = process.argv.slice(2);
let ms = Infinity;
let packedSize: number | undefined;
for (let i = 0; i < Math.max(1, Number(reps ?? 1)); i++) {
  const t0 = performance.now();
  if (op === 'pack') {
    const r = await packFile(input!, output!, level ? { level: Number(level) } : {});
    packedSize = r.packedSize;
  } else {
    await unpackFile(input!, output!);
  }
  ms = Math.min(ms, performance.now() - t0);
}
process.stdout.write(JSON.stringify({ ms, maxRssKB: process.resourceUsage().maxRSS, packedSize }) + '\n');
