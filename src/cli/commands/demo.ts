/**
 * `modelcdn demo` (what `npm start` runs): the main job on embedded defaults. Starts a local origin
 * and an edge (SQLite and files under one data folder), publishes two versions of a model — a real
 * fixture model and a fine-tune of it — pulls the first and then the second through the edge (the
 * second takes the patch route), prints the URLs and keeps serving until Ctrl-C (or exits with
 * --exit). Composition only: every step is the library call the real commands use.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { formatBytes, table } from '../output.ts';
import { inputError, McdnError } from '../../errors.ts';

const DEFAULT_FIXTURES = resolve(process.cwd(), '..', 'shared', 'fixtures');

export default defineCommand({
  summary: 'run a local origin + edge, publish two versions of a model and pull them (what `npm start` runs)',
  description:
    'Everything on embedded defaults: SQLite and files under --data (wiped at start), servers on 127.0.0.1. ' +
    'Version 1 is a real model from the fixtures; version 2 is a fine-tune of it (the last ~10 % of its weights ' +
    'changed, seeded). The first pull downloads the packed artifact; the second applies a patch. Then the servers ' +
    'keep running until Ctrl-C so you can try `modelcdn pull`, curl or the dashboard against them.',
  flags: {
    data: { type: 'string', description: 'data folder for the demo (wiped at start)', default: '.modelcdn-demo', placeholder: 'DIR' },
    model: { type: 'string', description: 'the model file to publish (default: the fixtures\' ppocr_v4_rec.onnx)', placeholder: 'FILE' },
    port: { type: 'number', description: 'origin port (the edge takes the next one); 0 picks free ports', default: 8080 },
    exit: { type: 'boolean', description: 'stop after the two pulls instead of serving until Ctrl-C' },
  },
  json: true,
  examples: ['npm start', 'modelcdn demo --port 0 --exit --json'],
  async run(ctx) {
    const data = resolve(flagString(ctx.flags, 'data') ?? '.modelcdn-demo');
    const fixtures = ctx.env['MODELCDN_FIXTURES'] ?? DEFAULT_FIXTURES;
    const model = resolve(flagString(ctx.flags, 'model') ?? join(fixtures, 'models', 'onnx', 'ppocr_v4_rec.onnx'));
    if (!existsSync(model)) {
      throw inputError('DEMO_NO_MODEL', `demo: model file ${model} not found`, {}, 'pass --model FILE or run from a checkout with ../shared/fixtures beside it');
    }
    const port = flagNumber(ctx.flags, 'port') ?? 8080;
    if (!Number.isInteger(port) || port < 0 || port > 65534) throw inputError('BAD_PORT', `demo: --port ${port} is not a TCP port`);

    const [{ startOrigin }, { startEdge }, { publish, collectFiles }, { pull }, { makeFineTune }, { createLogger }] = await Promise.all([
      import('../../cdn/origin/server.ts'),
      import('../../cdn/edge/server.ts'),
      import('../../cdn/origin/publish-client.ts'),
      import('../../cdn/client/index.ts'),
      import('../demo-model.ts'),
      import('../../cdn/logging/logger.ts'),
    ]);
    // the demo narrates on stdout; request logs only at warn unless MODELCDN_LOG_LEVEL asks for more
    const level = ctx.env['MODELCDN_LOG_LEVEL'] ? undefined : ('warn' as const);
    await rm(data, { recursive: true, force: true });
    await mkdir(data, { recursive: true });
    const say = (s: string) => ctx.out.line(s);

    const listen = async <T>(start: (p: number) => Promise<T>, p: number): Promise<T> => {
      try {
        return await start(p);
      } catch (e) {
        if (p !== 0 && e instanceof McdnError && /EADDRINUSE/.test(e.message)) {
          ctx.out.warn(`port ${p} is busy; using a free port instead`);
          return start(0);
        }
        throw e;
      }
    };
    const origin = await listen((p) => startOrigin({ dataDir: join(data, 'origin'), port: p, logger: createLogger({ role: 'origin', ...(level ? { level } : {}) }) }), port);
    const edge = await listen(
      (p) =>
        startEdge({
          origin: origin.url,
          region: 'local',
          cacheDir: join(data, 'edge'),
          cacheSizeBytes: 2e9,
          port: p,
          demandIntervalMs: 5000,
          logger: createLogger({ role: 'edge', base: { region: 'local' }, ...(level ? { level } : {}) }),
        }),
      port === 0 ? 0 : port + 1,
    );
    try {
      say(`origin  ${origin.url}   (data ${join(data, 'origin')})`);
      say(`edge    ${edge.url}   (region local, cache ${join(data, 'edge')})`);
      const token = origin.registry.createToken('demo').token;

      const v2 = await makeFineTune(model, join(data, 'fine-tune'));
      const name = 'demo-model';
      const steps: { step: string; version: string; route: string; size: number; fetched: number; seconds: number }[] = [];
      for (const [version, path] of [['1.0.0', model], ['1.1.0', v2]] as const) {
        say(`\npublish ${name}@${version}  (${formatBytes((await collectFiles([path]))[0]!.size)}; packing and computing patches from earlier versions)`);
        const files = await collectFiles([path]);
        files[0]!.path = 'model.onnx';
        const t0 = Date.now();
        await publish({ server: origin.url, token, name, version, channel: 'latest', files, signal: ctx.signal });
        say(`  ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        // by version: the edge caches the `latest` channel for a few seconds, as any CDN would
        const r = await pull({ ref: `${name}@${version}`, server: edge.url, outDir: join(data, 'client', name), home: join(data, 'client-home'), signal: ctx.signal });
        const f = r.files[0]!;
        steps.push({ step: `pull ${name}@${version}`, version: r.version, route: f.route, size: f.size, fetched: r.fetchedBytes, seconds: r.seconds });
        say(`pull ${name}@${version} through the edge: route ${f.route}, fetched ${formatBytes(r.fetchedBytes)} for a ${formatBytes(f.size)} file (${((100 * r.fetchedBytes) / f.size).toFixed(1)} %), sha256 verified`);
      }
      const urls = {
        origin: origin.url,
        edge: edge.url,
        dashboard: `${origin.url}/`,
        manifest: `${edge.url}/v1/models/${name}/versions/1.1.0/manifest`,
        rawFile: `${edge.url}/v1/models/${name}/versions/1.1.0/files/model.onnx`,
      };
      ctx.out.result({ data, urls, steps }, (v) => [
        '',
        table(
          ['step', 'version', 'route', 'file', 'fetched', '% of file'],
          v.steps.map((s) => [s.step, s.version, s.route, formatBytes(s.size), formatBytes(s.fetched), `${((100 * s.fetched) / s.size).toFixed(1)} %`]),
        ),
        '',
        `dashboard  ${v.urls.dashboard}   (edge status page: ${v.urls.edge}/)`,
        `try        npx modelcdn pull ${name}@1.0.0 --server ${v.urls.edge} -o /tmp/${name}`,
        `           curl --compressed -o /tmp/model.onnx ${v.urls.rawFile}`,
      ]);
      if (flagBool(ctx.flags, 'exit')) return 0;
      say('\nserving until Ctrl-C');
      await new Promise<void>((res) => {
        if (ctx.signal.aborted) return res();
        ctx.signal.addEventListener('abort', () => res(), { once: true });
      });
      return 0;
    } finally {
      await edge.close();
      await origin.close();
    }
  },
});
