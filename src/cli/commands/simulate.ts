/**
 * `modelcdn simulate`: replay a request trace through simulated edges (in-process, no network) with
 * the same eviction code the real edge runs, side by side with Belady's offline optimum and LRU;
 * reports byte/object hit ratios, origin egress and its price. Thin adapter: reads the file, hands
 * the bytes to src/sim.
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand, flagNumber, flagString, type CommandContext } from '../command.ts';
import { formatBytes, table } from '../output.ts';
import { fromSystemError, inputError } from '../../errors.ts';
import { DEFAULT_POLICY } from '../../cdn/eviction/index.ts';

export default defineCommand({
  summary: 'replay a request trace through simulated edge caches and compare eviction policies',
  description:
    'Replays a trace in-process through N simulated edges using the real eviction code, next to ' +
    "Belady's offline optimum (furthest next request, with bypass) and LRU. --cache-size is per edge, " +
    'as a percentage of the unique bytes of the whole trace or an absolute size; lists are comma-separated. ' +
    'Requests are split across edges by the trace\'s region column, else by a hash of the request index. ' +
    '--placement on turns on demand-based placement and tiered fetch: every 1/50 of the trace the planner ' +
    '(src/cdn/placement) pins and prefetches each edge\'s most-wanted objects (up to 30 % of its cache), and a ' +
    'missing edge fetches from a sibling edge that holds the object before going to the origin (sibling bytes ' +
    'are priced as inter-region transfer). Belady is run without placement (it already knows the future).',
  flags: {
    trace: { type: 'string', description: 'trace file', placeholder: 'FILE' },
    format: { type: 'string', description: 'auto | adaptsize | csv | oracle-general', default: 'auto', placeholder: 'FMT' },
    'cache-size': { type: 'string', description: 'per-edge cache size(s): 5%, 1%,5%,10% or 20GB', default: '5%', placeholder: 'SIZE' },
    policy: { type: 'string', description: 'eviction policy (s3fifo, lru, gdsf, lfuda, tinylfu, wtinylfu), a comma list, or all', default: DEFAULT_POLICY, placeholder: 'NAME' },
    regions: { type: 'number', description: 'number of simulated edges (default: regions in the trace, else 1)' },
    placement: { type: 'string', description: 'on | off: demand-based placement (planner pins + prefetch) and tiered fetch from sibling edges', default: 'off', placeholder: 'on|off' },
    world: { type: 'boolean', description: 'simulate the internet-scale world (regions × models, diurnal demand, releases) instead of a trace' },
    'world-options': { type: 'string', description: 'world overrides as JSON or key=value,… (regions, models, hours, modelSample, realDownloadsPerDay, edgeCacheFraction, …)', placeholder: 'OPTS' },
    diurnal: { type: 'string', description: 'JEDI hourly CSV for --world (default: ../shared/fixtures/traces/jedi_hourly_requests_us_eu.csv)', placeholder: 'FILE' },
    plot: { type: 'string', description: 'with --world: write a PNG plot of hourly origin egress and hit ratio', placeholder: 'FILE.png' },
    prices: { type: 'string', description: 'price overrides: JSON or key=value,… (originEgressPerGB, interRegionPerGB, edgeStoragePerGBMonth)', placeholder: 'PRICES' },
  },
  examples: [
    'modelcdn simulate --trace ../shared/fixtures/traces/adaptsize_request.trace --cache-size 5%,10% --policy all',
    'modelcdn simulate --trace requests.csv --regions 4 --placement on --cache-size 20GB --json',
    'modelcdn simulate --world --plot docs/internet-scale.png',
  ],
  json: true,
  async run(ctx) {
    if (ctx.flags['world'] === true) return runWorld(ctx);
    const { parseTrace, detectFormat, TRACE_FORMATS, uniqueBytes, MAX_TRACE_BYTES } = await import('../../sim/trace.ts');
    const { compare, parseCacheSizes, parsePolicies } = await import('../../sim/run.ts');
    const { resolvePrices, cost } = await import('../../sim/prices.ts');
    const path = flagString(ctx.flags, 'trace');
    if (!path) throw inputError('MISSING_TRACE', 'simulate: --trace FILE is required', {}, 'see `modelcdn simulate --help`');
    const fmtFlag = flagString(ctx.flags, 'format') ?? 'auto';
    if (fmtFlag !== 'auto' && !(TRACE_FORMATS as readonly string[]).includes(fmtFlag)) {
      throw inputError('BAD_FORMAT', `unknown trace format '${fmtFlag}'`, {}, `use auto, ${TRACE_FORMATS.join(', ')}`);
    }
    const placement = flagString(ctx.flags, 'placement') ?? 'off';
    if (placement !== 'on' && placement !== 'off') throw inputError('BAD_ARGUMENTS', `--placement must be on or off, got '${placement}'`);
    const regions = flagNumber(ctx.flags, 'regions');
    if (regions !== undefined && !(Number.isInteger(regions) && regions >= 1 && regions <= 10_000)) {
      throw inputError('BAD_REGIONS', `--regions must be an integer from 1 to 10000, got ${regions}`);
    }
    const policies = parsePolicies(flagString(ctx.flags, 'policy') ?? DEFAULT_POLICY);
    const prices = resolvePrices(flagString(ctx.flags, 'prices'));
    let bytes: Uint8Array;
    try {
      const st = statSync(path);
      if (st.isDirectory()) throw inputError('IS_A_DIRECTORY', `${path}: is a directory, expected a trace file`);
      if (st.size > MAX_TRACE_BYTES) throw inputError('TRACE_TOO_LARGE', `${path}: ${st.size} bytes is more than the limit of ${MAX_TRACE_BYTES}`);
      bytes = readFileSync(path);
    } catch (e) {
      throw fromSystemError(e, path);
    }
    const name = basename(path);
    const format = fmtFlag === 'auto' ? detectFormat(name, bytes.subarray(0, 4096)) : (fmtFlag as (typeof TRACE_FORMATS)[number]);
    const t0 = performance.now();
    const trace = parseTrace(bytes, format, name);
    const parseSeconds = (performance.now() - t0) / 1000;
    const sizes = parseCacheSizes(flagString(ctx.flags, 'cache-size') ?? '5%', uniqueBytes(trace));
    const cmp = compare(trace, { policies, cacheSizes: sizes, ...(regions !== undefined ? { regions } : {}), tiered: placement === 'on', placement: placement === 'on' });
    const rows = cmp.rows.map((r) => ({ ...r, cost: cost(prices, { originBytes: r.originBytes, interRegionBytes: r.siblingBytes }) }));
    const result = { trace: path, format, parseSeconds, placement, prices, ...cmp, rows };
    ctx.out.result(result, (v) => [
      `${name}: ${v.requests} requests, ${v.objects} objects, ${formatBytes(v.uniqueBytes)} unique, ${formatBytes(v.bytesRequested)} requested; ` +
        `${v.regions} edge(s); compulsory byte miss ratio ${v.compulsoryByteMissRatio.toFixed(4)}`,
      '',
      table(
        ['cache', 'policy', 'byte miss', 'obj miss', 'vs Belady (bytes)', 'vs Belady (obj)', 'origin egress', 'sibling', 'prefetched', 'cost $', 'Mreq/min'],
        v.rows.map((r) => [
          `${r.cacheLabel} (${formatBytes(r.capacityBytes)})`,
          r.policy + (r.policy === DEFAULT_POLICY ? ' *' : ''),
          r.byteMissRatio.toFixed(4),
          r.objectMissRatio.toFixed(4),
          `${r.byteMissVsBelady.toFixed(3)}x`,
          `${r.objectMissVsBelady.toFixed(3)}x`,
          formatBytes(r.originBytes),
          formatBytes(r.siblingBytes),
          formatBytes(r.prefetchBytes),
          `$${r.cost.total.toFixed(2)}`,
          (r.requestsPerMinute / 1e6).toFixed(1),
        ]),
      ),
      '',
      `* default policy. Belady = offline optimum (furthest next request, size-oblivious, with bypass). Prices: origin egress $${v.prices.originEgressPerGB}/GB, inter-region $${v.prices.interRegionPerGB}/GB.`,
    ]);
  },
});

async function runWorld(ctx: CommandContext): Promise<void> {
  const { simulateWorld, parseJedi, DEFAULT_WORLD } = await import('../../sim/world.ts');
  const { resolvePrices } = await import('../../sim/prices.ts');
  const { worldTable, worldPlot } = await import('../../sim/world-report.ts');
  const prices = resolvePrices(flagString(ctx.flags, 'prices'));
  const overrides = parseWorldOptions(flagString(ctx.flags, 'world-options'), Object.keys(DEFAULT_WORLD));
  const fixtures = ctx.env['MODELCDN_FIXTURES'] ?? fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url));
  const diurnalPath = flagString(ctx.flags, 'diurnal') ?? join(fixtures, 'traces', 'jedi_hourly_requests_us_eu.csv');
  let text: string;
  try {
    text = readFileSync(diurnalPath, 'utf8');
  } catch (e) {
    throw fromSystemError(e, diurnalPath);
  }
  const t0 = performance.now();
  const res = simulateWorld(overrides, parseJedi(text), prices);
  const seconds = (performance.now() - t0) / 1000;
  const plotPath = flagString(ctx.flags, 'plot');
  if (plotPath) writeAtomic(plotPath, worldPlot(res));
  const { scenarios, ...rest } = res;
  ctx.out.result({ ...rest, seconds, plot: plotPath ?? null, scenarios: scenarios.map(({ hourly, ...s }) => ({ ...s, hourly })) }, () => [
    worldTable(res),
    '',
    `simulated ${res.sampledRequests} sampled requests per scenario in ${seconds.toFixed(1)} s${plotPath ? `; plot written to ${plotPath}` : ''}`,
  ]);
}

function parseWorldOptions(spec: string | undefined, keys: string[]): Record<string, number> {
  if (!spec) return {};
  let obj: Record<string, unknown>;
  if (spec.trim().startsWith('{')) {
    try {
      obj = JSON.parse(spec) as Record<string, unknown>;
    } catch (e) {
      throw inputError('BAD_WORLD_OPTION', `--world-options is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    obj = {};
    for (const pair of spec.split(',')) {
      const [k, v] = pair.split('=');
      if (!k || v === undefined) throw inputError('BAD_WORLD_OPTION', `world option '${pair}' is not key=value`);
      obj[k.trim()] = Number(v);
    }
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!keys.includes(k)) throw inputError('BAD_WORLD_OPTION', `unknown world option '${k}'`, {}, `options: ${keys.join(', ')}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw inputError('BAD_WORLD_OPTION', `world option '${k}' must be a non-negative number`);
    out[k] = v;
  }
  return out;
}

/** write via a temp file in the destination directory, then rename (never a half-written file) */
function writeAtomic(path: string, data: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* ignore */
    }
    throw fromSystemError(e, path);
  }
}
