/**
 * `modelcdn deploy NAME@V`: move a channel to a published version in one atomic step at the origin;
 * edges learn it by push within a second. `--require-ready` refuses (or with `--wait`, waits) until
 * that share of edges has the staged version prefetched. Thin CLI layer over src/cdn/prefetch/client.ts.
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { McdnError, inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'move a channel to a version atomically (optionally only once edges have it staged)',
  description:
    'The channel flips in one registry transaction and every edge connected to the push channel drops its cached ' +
    'channel at once. With --require-ready P (e.g. 100%), the version must be staged and ready on at least P of the ' +
    'known edges, otherwise nothing changes and the command fails; --wait polls `status` until it is, up to --timeout.',
  positionals: [{ name: 'ref', description: 'NAME@VERSION', required: true }],
  flags: {
    channel: { type: 'string', description: 'channel to move', default: 'latest' },
    'require-ready': { type: 'string', description: 'share of edges that must have it prefetched, e.g. 100% or 0.9 (default: none)', placeholder: 'P' },
    wait: { type: 'boolean', description: 'wait until --require-ready holds instead of failing' },
    timeout: { type: 'number', description: 'with --wait: give up after this many seconds', default: 3600 },
    token: { type: 'string', description: 'publish token (default: $MODELCDN_TOKEN)', placeholder: 'TOKEN' },
    server: { type: 'string', description: 'origin URL (default: $MODELCDN_SERVER)', placeholder: 'URL' },
  },
  json: true,
  examples: ['modelcdn deploy demo@1.1 --require-ready 100% --wait --token $TOKEN --server http://127.0.0.1:8080', 'modelcdn deploy demo@1.1 --channel stable --token $TOKEN'],
  async run(ctx) {
    const { deploy, parseVersionRef, serverUrl, stageStatus } = await import('../../cdn/prefetch/client.ts');
    const { parseReadyFraction } = await import('../../cdn/prefetch/origin.ts');
    const { validateChannel } = await import('../../cdn/http/validate.ts');
    const { name, version } = parseVersionRef(ctx.args['ref'] as string, 'deploy');
    const channel = validateChannel(flagString(ctx.flags, 'channel') ?? 'latest');
    const rr = flagString(ctx.flags, 'require-ready');
    const requireReady = rr === undefined ? 0 : parseReadyFraction(rr);
    const server = serverUrl(flagString(ctx.flags, 'server') ?? ctx.env['MODELCDN_SERVER'], 'deploy');
    const token = flagString(ctx.flags, 'token') ?? ctx.env['MODELCDN_TOKEN'];
    if (!token) throw inputError('NO_TOKEN', 'deploy: a publish token is required', {}, 'pass --token or set MODELCDN_TOKEN');
    const timeoutS = flagNumber(ctx.flags, 'timeout') ?? 3600;
    if (!(timeoutS > 0)) throw inputError('BAD_TIMEOUT', `deploy: --timeout must be a positive number of seconds, got ${timeoutS}`);
    const o = { server, token, signal: ctx.signal };
    if (flagBool(ctx.flags, 'wait') && requireReady > 0) {
      const deadline = Date.now() + timeoutS * 1000;
      let bar: ReturnType<typeof ctx.out.progress> | undefined;
      for (;;) {
        const s = await stageStatus(o, name, version);
        if (s.status !== 'staged') break; // the server gives the precise error
        const done = s.edges.reduce((a, e) => a + e.readyBytes, 0);
        const total = s.edges.reduce((a, e) => a + e.totalBytes, 0);
        bar ??= ctx.out.progress('edges prefetching', total);
        bar.setTotal(total);
        bar.set(done);
        if (s.knownEdges > 0 && s.readiness + 1e-9 >= requireReady) break;
        if (Date.now() > deadline) {
          bar.done();
          throw new McdnError('WAIT_TIMEOUT', 'conflict', `deploy: ${name}@${version} is ready on ${s.readyEdges} of ${s.knownEdges} edges after ${timeoutS} s`, { remedy: 'check `modelcdn status`' });
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          ctx.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
        });
        if (ctx.signal.aborted) throw new McdnError('CANCELLED', 'cancelled', 'deploy: cancelled while waiting; nothing changed');
      }
      bar?.done();
    }
    const r = await deploy(o, { name, version, channel, requireReady });
    ctx.out.result(r, (v) => `${v.name}: ${v.channel} → ${v.version}${v.previous ? ` (was ${v.previous})` : ''}; ${v.notifiedEdges} edge(s) notified${v.readiness ? `, ${v.readiness.readyEdges}/${v.readiness.knownEdges} had it staged` : ''}`);
  },
});
