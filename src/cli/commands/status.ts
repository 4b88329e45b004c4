/**
 * `modelcdn status NAME@V`: a staged version's readiness per edge (ready, or bytes left), from the
 * origin. Thin CLI layer over src/cdn/prefetch/client.ts.
 */
import { defineCommand, flagString } from '../command.ts';
import { formatBytes, table } from '../output.ts';

export default defineCommand({
  summary: "show a staged version's readiness on every edge (ready or bytes left)",
  description:
    'Edges count when they are connected to the origin\'s push channel or reported in the last 10 minutes. Without ' +
    'NAME@V, lists every staged version (and those deployed or unstaged in the last 24 hours).',
  positionals: [{ name: 'ref', description: 'NAME@VERSION (omit to list all staged versions)' }],
  flags: {
    server: { type: 'string', description: 'origin URL (default: $MODELCDN_SERVER)', placeholder: 'URL' },
  },
  json: true,
  examples: ['modelcdn status demo@1.1 --server http://127.0.0.1:8080', 'modelcdn status --json'],
  async run(ctx) {
    const { listStages, parseVersionRef, serverUrl, stageStatus } = await import('../../cdn/prefetch/client.ts');
    const server = serverUrl(flagString(ctx.flags, 'server') ?? ctx.env['MODELCDN_SERVER'], 'status');
    const ref = ctx.args['ref'] as string | undefined;
    const o = { server, signal: ctx.signal };
    let stages;
    if (ref) {
      const { name, version } = parseVersionRef(ref, 'status');
      stages = [await stageStatus(o, name, version)];
    } else stages = (await listStages(o)).stages;
    const human = (s: (typeof stages)[number]) => [
      `${s.name}@${s.version}: ${s.status}${s.channel ? ` on ${s.channel}` : ''} — ${s.readyEdges} of ${s.knownEdges} edges ready (${Math.round(s.readiness * 100)}%)`,
      ...(s.edges.length
        ? [
            table(
              ['edge', 'region', 'state', 'done', 'total', 'window', 'link'],
              s.edges.map((e) => [e.edge, e.region, e.ready ? 'ready' : e.error ? `error: ${e.error.slice(0, 60)}` : `${formatBytes(e.bytesLeft)} left`, formatBytes(e.readyBytes), formatBytes(e.totalBytes), e.window ?? '-', e.connected ? 'connected' : 'away']),
            ),
          ]
        : ['  (no edge connected or reporting)']),
    ];
    if (ref) ctx.out.result(stages[0]!, (s) => human(s));
    else ctx.out.result({ stages }, (v) => (v.stages.length ? v.stages.flatMap(human) : ['nothing staged']));
  },
});
