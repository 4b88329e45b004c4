/**
 * `modelcdn unstage NAME@V`: withdraw a staged version; edges unpin its blobs and drop partial
 * downloads. Thin CLI layer over src/cdn/prefetch/client.ts.
 */
import { defineCommand, flagString } from '../command.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'withdraw a staged version (edges unpin its prefetched blobs)',
  positionals: [{ name: 'ref', description: 'NAME@VERSION', required: true }],
  flags: {
    token: { type: 'string', description: 'publish token (default: $MODELCDN_TOKEN)', placeholder: 'TOKEN' },
    server: { type: 'string', description: 'origin URL (default: $MODELCDN_SERVER)', placeholder: 'URL' },
  },
  json: true,
  examples: ['modelcdn unstage demo@1.1 --token $TOKEN --server http://127.0.0.1:8080'],
  async run(ctx) {
    const { parseVersionRef, serverUrl, unstage } = await import('../../cdn/prefetch/client.ts');
    const { name, version } = parseVersionRef(ctx.args['ref'] as string, 'unstage');
    const server = serverUrl(flagString(ctx.flags, 'server') ?? ctx.env['MODELCDN_SERVER'], 'unstage');
    const token = flagString(ctx.flags, 'token') ?? ctx.env['MODELCDN_TOKEN'];
    if (!token) throw inputError('NO_TOKEN', 'unstage: a publish token is required', {}, 'pass --token or set MODELCDN_TOKEN');
    const v = await unstage({ server, token, signal: ctx.signal }, name, version);
    ctx.out.result(v, (s) => `${s.name}@${s.version} unstaged; edges unpin it`);
  },
});
