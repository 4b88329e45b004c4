/**
 * `modelcdn simulate`: replay a request trace through simulated edges (in-process, no network) with
 * the same eviction code the real edge runs, side by side with Belady's offline optimum and LRU;
 * reports byte/object hit ratios, origin egress and its price. Thin adapter: reads the file, hands
 * the bytes to src/sim.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { defineCommand, flagNumber, flagString } from '../command.ts';
import { formatBytes, table } from '../output.ts';
import { fromSystemError, inputError } from '../../errors.ts';
import { DEFAULT_POLICY } from '../../cdn/eviction/index.ts';

export default defineCommand({
  summary: 'Replay a request trace through simulated edge caches and compare eviction policies',
  description:
    'Replays a trace in-process through N simulated edges using the real eviction code, next to ' +
    "Belady's offline optimum (furthest next request, with bypass) and LRU. --cache-size is per edge, " +
    'as a percentage of the unique bytes of the whole trace or an absolute size; lists are comma-separated. ' +
    'Requests are split across edges by the trace\'s region column, else by a hash of the request index. ' +
    '--placement on lets a missing edge fetch from a sibling edge that holds the object before going to the origin ' +
    '(tiered fetch; sibling bytes are priced as inter-region transfer).',
  flags: {
    trace: { type: 'string', description: 'trace file', placeholder: 'FILE' },
    format: { type: 'string', description: 'auto | adaptsize | csv | oracle-general', default: 'auto', placeholder: 'FMT' },
    'cache-size': { type: 'string', description: 'per-edge cache size(s): 5%, 1%,5%,10% or 20GB', default: '5%', placeholder: 'SIZE' },
    policy: { type: 'string', description: `eviction policy, a comma list, or all (default: ${DEFAULT_POLICY})`, default: DEFAULT_POLICY, placeholder: 'NAME' },
    regions: { type: 'number', description: 'number of simulated edges (default: regions in the trace, else 1)' },
    placement: { type: 'string', description: 'on | off: tiered fetch from sibling edges', default: 'off', placeholder: 'on|off' },
    prices: { type: 'string', description: 'price overrides: JSON or key=value,… (originEgressPerGB, interRegionPerGB, edgeStoragePerGBMonth)', placeholder: 'PRICES' },
  },
  examples: [
    'modelcdn simulate --trace ../shared/fixtures/traces/adaptsize_request.trace --cache-size 5%,10% --policy all',
    'modelcdn simulate --trace requests.csv --regions 4 --placement on --cache-size 20GB --json',
  ],
  json: true,
  async run(ctx) {
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
    const cmp = compare(trace, { policies, cacheSizes: sizes, ...(regions !== undefined ? { regions } : {}), tiered: placement === 'on' });
    const rows = cmp.rows.map((r) => ({ ...r, cost: cost(prices, { originBytes: r.originBytes, interRegionBytes: r.siblingBytes }) }));
    const result = { trace: path, format, parseSeconds, placement, prices, ...cmp, rows };
    ctx.out.result(result, (v) => [
      `${name}: ${v.requests} requests, ${v.objects} objects, ${formatBytes(v.uniqueBytes)} unique, ${formatBytes(v.bytesRequested)} requested; ` +
        `${v.regions} edge(s); compulsory byte miss ratio ${v.compulsoryByteMissRatio.toFixed(4)}`,
      '',
      table(
        ['cache', 'policy', 'byte miss', 'obj miss', 'vs Belady (bytes)', 'vs Belady (obj)', 'origin egress', 'sibling', 'origin $', 'Mreq/min'],
        v.rows.map((r) => [
          `${r.cacheLabel} (${formatBytes(r.capacityBytes)})`,
          r.policy + (r.policy === DEFAULT_POLICY ? ' *' : ''),
          r.byteMissRatio.toFixed(4),
          r.objectMissRatio.toFixed(4),
          `${r.byteMissVsBelady.toFixed(3)}x`,
          `${r.objectMissVsBelady.toFixed(3)}x`,
          formatBytes(r.originBytes),
          formatBytes(r.siblingBytes),
          `$${r.cost.total.toFixed(2)}`,
          (r.requestsPerMinute / 1e6).toFixed(1),
        ]),
      ),
      '',
      `* default policy. Belady = offline optimum (furthest next request, size-oblivious, with bypass). Prices: origin egress $${v.prices.originEgressPerGB}/GB, inter-region $${v.prices.interRegionPerGB}/GB.`,
    ]);
  },
});
