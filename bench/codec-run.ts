/**
 * Child process of bench/codec.ts: runs one mcz pack or unpack in a fresh process and reports its
 * wall time (excluding Node/tsx start-up) and peak RSS as JSON on stdout. Not a user-facing tool.
 * Usage: node --import tsx bench/codec-run.ts pack|unpack|decode IN OUT LEVEL REPS [fsync] [max]
 * `decode` streams IN through the verifying decoder (whole-file sha256 checked) into a null sink —
 * what `zstd -d -c > /dev/null` measures — while `unpack` writes OUT (temp file + rename).
 * Without `fsync` the output is not fsynced before the rename (like the zstd/gzip/brotli tools);
 * `max` packs with effort max (boost 'max').
 * With REPS > 1 the best time is reported (the first run also pays module loading and JIT warm-up).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createUnpackStream, packFile, unpackFile } from '../src/codec/index.ts';

const [op, input, output, level, reps, ...flags] = process.argv.slice(2);
const durable = flags.includes('fsync');
const max = flags.includes('max');
let ms = Infinity;
let cpuMs = Infinity;
let packedSize: number | undefined;
for (let i = 0; i < Math.max(1, Number(reps ?? 1)); i++) {
  // flush earlier runs' dirty pages first (untimed): otherwise a run pays for the previous one's writeback
  spawnSync('sync');
  const t0 = performance.now();
  const c0 = process.cpuUsage(); // whole process, worker threads included
  if (op === 'pack') {
    const r = await packFile(input!, output!, { durable, ...(max ? { boost: 'max' as const } : {}), ...(level ? { level: Number(level) } : {}) });
    packedSize = r.packedSize;
  } else if (op === 'decode') {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(createReadStream(input!, { highWaterMark: 1 << 20 }), createUnpackStream({ chunkHashes: false }), sink);
  } else {
    await unpackFile(input!, output!, { durable });
  }
  const c = process.cpuUsage(c0);
  if (performance.now() - t0 < ms) {
    ms = performance.now() - t0;
    cpuMs = (c.user + c.system) / 1000;
  }
}
/**
 * Peak RSS of this process image. Linux keeps getrusage's maxrss across fork + exec, so a child of
 * a big parent would report the parent's peak; /proc/self/status VmHWM belongs to this image only.
 */
function peakRssKB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS;
}
process.stdout.write(JSON.stringify({ ms, cpuMs, maxRssKB: peakRssKB(), packedSize }) + '\n');
