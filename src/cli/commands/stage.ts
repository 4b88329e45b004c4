/**
 * `modelcdn stage NAME@V`: ask the origin to stage a published version. Edges learn it by push and
 * prefetch its blobs (packed artifact, patches from the versions their clients run) inside their
 * off-peak window under their rate cap, pinned until the version is deployed or unstaged. Thin CLI
 * layer over src/cdn/prefetch/client.ts.
 */
import { defineCommand, flagString } from '../command.ts';
import { inputError } from '../../errors.ts';
import { formatBytes } from '../output.ts';

export default defineCommand({
  summary: 'stage a published version: edges prefetch it off-peak, ready for an instant deploy',
  description:
    'The version must be published and ready (publish it with `--channel none` so no channel moves yet). The origin ' +
    'pushes it to every edge; each edge downloads the packed artifact and the patch from the version its clients use ' +
    'now, only inside its off-peak window (edge --offpeak/--tz, or learned from its demand) and under --prefetch-rate, ' +
    'resuming where it stopped, and pins the blobs until the version is deployed (`modelcdn deploy`) or unstaged ' +
    '(`modelcdn unstage`). Watch progress with `modelcdn status NAME@V`.',
  positionals: [{ name: 'ref', description: 'NAME@VERSION', required: true }],
  flags: {
    token: { type: 'string', description: 'publish token (default: $MODELCDN_TOKEN)', placeholder: 'TOKEN' },
    server: { type: 'string', description: 'origin URL (default: $MODELCDN_SERVER)', placeholder: 'URL' },
  },
  json: true,
  examples: ['modelcdn stage demo@1.1 --token $TOKEN --server http://127.0.0.1:8080'],
  async run(ctx) {
    const { parseVersionRef, serverUrl, stage } = await import('../../cdn/prefetch/client.ts');
    const { name, version } = parseVersionRef(ctx.args['ref'] as string, 'stage');
    const server = serverUrl(flagString(ctx.flags, 'server') ?? ctx.env['MODELCDN_SERVER'], 'stage');
    const token = flagString(ctx.flags, 'token') ?? ctx.env['MODELCDN_TOKEN'];
    if (!token) throw inputError('NO_TOKEN', 'stage: a publish token is required', {}, 'pass --token or set MODELCDN_TOKEN (see `modelcdn token create`)');
    const v = await stage({ server, token, signal: ctx.signal }, name, version);
    ctx.out.result(v, (s) => `${s.name}@${s.version} staged at ${s.stagedAt}; ${s.knownEdges} edge(s) told, ${s.readyEdges} ready (${formatBytes(s.totalBytes)} per edge at most)`);
  },
});
