/**
 * The origin's half of staging, deploy and placement (issue 7 §1–3) as a route module the origin
 * server mounts: `POST /v1/stages` (stage), `DELETE /v1/stages/:name/:version` (unstage),
 * `GET /v1/stages[/:name/:version]` (per-edge readiness), `POST /v1/deploy` (atomic channel flip,
 * optionally only when enough edges are ready), `GET /v1/plan` (placement plan with reasons),
 * `GET /v1/prefetch/events` (the push channel: Server-Sent Events carrying each edge's prefetch set
 * and channel moves), `GET /v1/prefetch/set` (the same set as plain JSON) and
 * `POST /v1/prefetch/readiness` (edges report bytes done per item). State lives in `prefetch_*`
 * tables on the registry's database. It does not serve blobs or touch publishing.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McdnError, inputError } from '../../errors.ts';
import { httpError, notFound } from '../http/errors.ts';
import { readJsonBody, sendJson } from '../http/send.ts';
import { validateChannel, validateModelName, validateVersion } from '../http/validate.ts';
import { formatWindow, learnOffPeak, releaseCadence, type LearnedWindow, type Plan } from '../placement/index.ts';
import type { Registry } from '../registry/registry.ts';
import { route, type Route } from '../origin/router.ts';
import { computePlan, itemId, planItems, predictItems, stageItem, type PrefetchSetItem } from './sets.ts';
import { PrefetchState, type EdgeRow, type StageRow, type StageStatus } from './state.ts';

/** An edge not connected and not heard from for this long no longer counts for readiness. */
export const EDGE_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_PLAN_INTERVAL_MS = 60_000;
export const HEARTBEAT_MS = 15_000;
export const MAX_READINESS_ITEMS = 10_000;
export const MAX_BODY_BYTES = 4 << 20;
/** Deployed/unstaged versions stay in `GET /v1/stages` this long. */
export const STAGE_HISTORY_MS = 24 * 3600_000;
/** Default pin capacity of a region whose edges did not say (a share of an edge's cache). */
export const DEFAULT_PIN_CAPACITY = 10 * 1000 ** 3;
/** Hours of a learned off-peak window. */
export const LEARNED_WINDOW_HOURS = 5;

const EDGE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const REGION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface EdgeReadiness {
  edge: string;
  region: string;
  readyBytes: number;
  totalBytes: number;
  bytesLeft: number;
  ready: boolean;
  connected: boolean;
  lastSeen: string | null;
  /** the edge's off-peak window ("01:00-06:00 Europe/Paris"), if it said */
  window: string | null;
  error: string | null;
}

/** One staged (or recently deployed/unstaged) version: `GET /v1/stages` lists these. */
export interface StageView {
  name: string;
  version: string;
  status: StageStatus;
  stagedAt: string;
  deployedAt: string | null;
  channel: string | null;
  /** the largest per-edge total (edges may need different patches) */
  totalBytes: number;
  edges: EdgeReadiness[];
  readyEdges: number;
  knownEdges: number;
  /** readyEdges / knownEdges (1 when no edge is known) */
  readiness: number;
}

export interface WindowInfo extends LearnedWindow {
  text: string;
}

/** The push message each edge receives (event `state`), also `GET /v1/prefetch/set`. */
export interface EdgeSetMessage {
  edge: string;
  region: string;
  /** an off-peak window learned from this region's demand history (used when the edge has none configured) */
  learnedWindow: WindowInfo | null;
  /** sibling edges (same region, connected, with a reachable URL) to ask before the upstream */
  peers: string[];
  items: PrefetchSetItem[];
}

export interface PrefetchOriginOptions {
  registry: Registry;
  /** the origin's event emitter: 'channel' ({name, channel, version}) and 'version-ready' */
  events: EventEmitter;
  /** throws when the request has no valid publish token */
  requireToken: (req: IncomingMessage) => unknown;
  now?: () => number;
  /** how often plans and predictions are recomputed and pushed (0: only on demand) */
  planIntervalMs?: number;
  defaultCapacityBytes?: number;
  heartbeatMs?: number;
}

export interface PrefetchOrigin {
  routes: Route[];
  state: PrefetchState;
  /** staged versions with per-edge readiness (the dashboard's staging view) */
  stages(): StageView[];
  /** the current plan's pinned bytes per region and model (the dashboard's heatmap) */
  placementPins(): { region: string; model: string; pinnedBytes: number }[];
  plan(fresh?: boolean): Plan & { now: string };
  /** recompute every subscriber's set and push the changed ones */
  refresh(): void;
  subscribers(): number;
  close(): void;
}

interface Subscriber {
  edge: string;
  region: string;
  url: string | undefined;
  res: ServerResponse;
  last: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonNeg = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw inputError('BAD_FIELD', `${what} must be a non-negative integer`);
  return v;
};
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** "100%", "0.5", "50" (percent), 1 → a fraction in 0..1 */
export function parseReadyFraction(v: unknown): number {
  let x: number;
  if (typeof v === 'number') x = v > 1 ? v / 100 : v;
  else if (typeof v === 'string' && /^\s*[0-9]+(\.[0-9]+)?\s*%\s*$/.test(v)) x = Number(v.trim().slice(0, -1)) / 100;
  else if (typeof v === 'string' && /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(v)) x = Number(v) > 1 ? Number(v) / 100 : Number(v);
  else throw inputError('BAD_REQUIRE_READY', `require-ready '${String(v).slice(0, 20)}' is not a percentage such as 100% or 0.9`);
  if (!(x >= 0 && x <= 1)) throw inputError('BAD_REQUIRE_READY', `require-ready must be between 0% and 100%, got ${String(v).slice(0, 20)}`);
  return x;
}

export function createPrefetchOrigin(opts: PrefetchOriginOptions): PrefetchOrigin {
  const { registry, events } = opts;
  const now = opts.now ?? Date.now;
  const state = new PrefetchState(registry.db);
  const subs = new Set<Subscriber>();
  const defaultCapacity = opts.defaultCapacityBytes ?? DEFAULT_PIN_CAPACITY;
  let analysis: { plan: Plan & { now: string }; windows: Map<string, WindowInfo | null>; at: number } | undefined;

  const analyze = (fresh = false) => {
    const t = now();
    if (analysis && !fresh && t - analysis.at < (opts.planIntervalMs || DEFAULT_PLAN_INTERVAL_MS)) return analysis;
    const caps = new Map<string, number>();
    for (const e of state.edges()) if (e.pinCapacityBytes !== null) caps.set(e.region, (caps.get(e.region) ?? 0) + e.pinCapacityBytes);
    for (const s of subs) if (!caps.has(s.region)) caps.set(s.region, defaultCapacity);
    const { plan, agg } = computePlan(registry, { regions: [...caps].map(([name, capacityBytes]) => ({ name, capacityBytes })), defaultCapacityBytes: defaultCapacity }, t);
    const windows = new Map<string, WindowInfo | null>();
    for (const region of new Set([...agg.regions(), ...caps.keys()])) {
      const profile = agg.hourOfDayProfile(region);
      if (profile.reduce((a, b) => a + b, 0) <= 0) {
        windows.set(region, null);
        continue;
      }
      const w = learnOffPeak(profile, LEARNED_WINDOW_HOURS, 'UTC');
      windows.set(region, { ...w, text: formatWindow(w) });
    }
    analysis = { plan, windows, at: t };
    return analysis;
  };

  const regionsKnown = (): string[] => [...new Set([...state.edges().map((e) => e.region), ...[...subs].map((s) => s.region), ...analyze().plan.regions.map((r) => r.name)])].sort();

  const setFor = (edge: string, region: string): EdgeSetMessage => {
    const t = now();
    const a = analyze();
    const items: PrefetchSetItem[] = [];
    for (const s of state.activeStages()) {
      const it = stageItem(registry, region, s.name, s.version, t);
      if (it) items.push(it);
    }
    const have = new Set(items.map((i) => `${i.name}@${i.version}`));
    for (const it of predictItems(registry, region, regionsKnown(), t)) {
      if (have.has(`${it.name}@${it.version}`)) continue;
      have.add(`${it.name}@${it.version}`);
      items.push(it);
    }
    for (const it of planItems(registry, a.plan, region)) {
      if (have.has(`${it.name}@${it.version}`)) continue;
      have.add(`${it.name}@${it.version}`);
      items.push(it);
    }
    const peers = [...new Set([...subs].filter((s) => s.region === region && s.edge !== edge && s.url).map((s) => s.url!))].sort();
    return { edge, region, learnedWindow: a.windows.get(region) ?? null, peers, items };
  };

  const write = (s: Subscriber, event: string, data: unknown) => {
    if (s.res.destroyed) return false;
    s.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    return true;
  };

  const pushState = (s: Subscriber) => {
    const msg = setFor(s.edge, s.region);
    const json = JSON.stringify(msg);
    if (json === s.last) return;
    s.last = json;
    write(s, 'state', msg);
  };

  const refresh = () => {
    for (const s of subs) {
      try {
        pushState(s);
      } catch {
        s.res.destroy();
      }
    }
  };

  const onChannel = (c: { name: string; channel: string; version: string }) => {
    let n = 0;
    for (const s of subs) if (write(s, 'channel', c)) n++;
    lastNotified = n;
    refresh();
  };
  let lastNotified = 0;
  const onReady = () => {
    analysis = undefined;
    refresh();
  };
  events.on('channel', onChannel);
  events.on('version-ready', onReady);
  const planTimer =
    opts.planIntervalMs === 0
      ? undefined
      : setInterval(() => {
          if (subs.size === 0) return;
          analyze(true);
          refresh();
        }, opts.planIntervalMs ?? DEFAULT_PLAN_INTERVAL_MS);
  planTimer?.unref();
  const heartbeat = setInterval(() => {
    for (const s of subs) if (!s.res.destroyed) s.res.write(`: ping\n\n`);
  }, opts.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();

  const known = (): Map<string, EdgeRow & { connected: boolean }> => {
    const t = now();
    const out = new Map<string, EdgeRow & { connected: boolean }>();
    const connected = new Set([...subs].map((s) => s.edge));
    for (const e of state.edges()) {
      if (connected.has(e.edge) || t - e.lastSeen <= EDGE_TIMEOUT_MS) out.set(e.edge, { ...e, connected: connected.has(e.edge) });
    }
    return out;
  };

  const view = (s: StageRow): StageView => {
    const t = now();
    const id = itemId('stage', s.name, s.version);
    const rows = new Map(state.readiness(s.name, s.version).filter((r) => r.item === id).map((r) => [r.edge, r]));
    let edges: EdgeReadiness[] = [];
    const frozen = s.status !== 'staged' && s.final ? (JSON.parse(s.final) as EdgeReadiness[]) : undefined;
    if (frozen) edges = frozen;
    for (const [edgeId, e] of frozen ? [] : known()) {
      const r = rows.get(edgeId);
      const total = r?.totalBytes ?? (s.status === 'staged' ? (stageItem(registry, e.region, s.name, s.version, t)?.totalBytes ?? 0) : 0);
      const done = r?.doneBytes ?? 0;
      edges.push({
        edge: edgeId,
        region: e.region,
        readyBytes: done,
        totalBytes: total,
        bytesLeft: Math.max(0, total - done),
        ready: r?.ready ?? false,
        connected: e.connected,
        lastSeen: iso(e.lastSeen),
        window: e.window,
        error: r?.error ?? null,
      });
    }
    const readyEdges = edges.filter((e) => e.ready).length;
    return {
      name: s.name,
      version: s.version,
      status: s.status,
      stagedAt: new Date(s.stagedAt).toISOString(),
      deployedAt: iso(s.deployedAt),
      channel: s.channel,
      totalBytes: edges.reduce((m, e) => Math.max(m, e.totalBytes), 0),
      edges,
      readyEdges,
      knownEdges: edges.length,
      readiness: edges.length ? readyEdges / edges.length : 1,
    };
  };

  /** the ready version name@version, or one clear error (unknown model, unknown version, not ready) */
  const requireReadyVersion = (name: string, version: string) => {
    if (registry.modelId(name) === undefined) throw new McdnError('MODEL_NOT_FOUND', 'not_found', `model '${name}' does not exist on this origin`, { remedy: 'publish it first (`modelcdn publish`)' });
    const v = registry.getVersion(name, version);
    if (!v) throw new McdnError('VERSION_NOT_FOUND', 'not_found', `${name}@${version} does not exist`, { remedy: 'publish it first, e.g. with `modelcdn publish --channel none`' });
    if (v.status !== 'ready') throw new McdnError('VERSION_NOT_READY', 'conflict', `${name}@${version} is ${v.status}, not ready`, { remedy: v.status === 'pending' ? 'wait for the publish job to finish' : 'publish it again' });
    return v;
  };

  const nameVersion = (body: unknown): { name: string; version: string } => {
    if (!isObj(body)) throw inputError('BAD_BODY', 'expected a JSON object {name, version}');
    return { name: validateModelName(body['name'] as string), version: validateVersion(body['version'] as string) };
  };

  const routes: Route[] = [
    route('POST', '/v1/stages', 'stageVersion', async (req, res) => {
      opts.requireToken(req);
      const { name, version } = nameVersion(await readJsonBody(req, MAX_BODY_BYTES));
      requireReadyVersion(name, version);
      const created = state.stage(name, version, now());
      refresh();
      sendJson(res, created ? 201 : 200, view(state.getStage(name, version)!), { 'cache-control': 'no-store' });
    }),
    route(['GET', 'HEAD'], '/v1/stages', 'listStages', (req, res) => {
      const stages = state.listStages({ since: now() - STAGE_HISTORY_MS }).map(view);
      sendJson(res, 200, { stages }, { 'cache-control': 'no-store' }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/v1/stages/:name/:version', 'getStage', (req, res, p) => {
      const name = validateModelName(p['name']!);
      const version = validateVersion(p['version']!);
      const s = state.getStage(name, version);
      if (!s) {
        requireReadyVersion(name, version);
        throw notFound('NOT_STAGED', `${name}@${version} has not been staged`);
      }
      sendJson(res, 200, view(s), { 'cache-control': 'no-store' }, req.method === 'HEAD');
    }),
    route('DELETE', '/v1/stages/:name/:version', 'unstageVersion', (req, res, p) => {
      opts.requireToken(req);
      const name = validateModelName(p['name']!);
      const version = validateVersion(p['version']!);
      const s = state.getStage(name, version);
      if (!s || s.status !== 'staged') {
        requireReadyVersion(name, version);
        throw new McdnError('NOT_STAGED', 'conflict', `${name}@${version} is not staged${s ? ` (it is ${s.status})` : ''}`);
      }
      state.setStageStatus(name, version, 'unstaged', now(), { final: JSON.stringify(view(s).edges) });
      refresh();
      sendJson(res, 200, view(state.getStage(name, version)!), { 'cache-control': 'no-store' });
    }),
    route('POST', '/v1/deploy', 'deployVersion', async (req, res) => {
      opts.requireToken(req);
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      const { name, version } = nameVersion(body);
      const b = body as Record<string, unknown>;
      const channel = validateChannel((b['channel'] as string | undefined) ?? 'latest');
      const requireReady = b['requireReady'] === undefined ? 0 : parseReadyFraction(b['requireReady']);
      requireReadyVersion(name, version);
      const previous = registry.channels(name)[channel] ?? null;
      const s = state.getStage(name, version);
      let readiness: StageView | undefined = s ? view(s) : undefined;
      if (requireReady > 0) {
        if (!s || s.status === 'unstaged') throw new McdnError('NOT_STAGED', 'conflict', `${name}@${version} is not staged, so no edge readiness is known`, { remedy: `stage it first (\`modelcdn stage ${name}@${version}\`) or deploy without --require-ready` });
        if (s.status === 'staged') {
          if (readiness!.knownEdges === 0) throw new McdnError('NO_EDGES', 'conflict', `no edge is connected or has reported for ${name}@${version}`, { remedy: 'start the edges, or deploy without --require-ready' });
          if (readiness!.readiness + 1e-9 < requireReady) {
            const left = readiness!.edges.filter((e) => !e.ready);
            throw new McdnError(
              'NOT_READY',
              'conflict',
              `${name}@${version} is ready on ${readiness!.readyEdges} of ${readiness!.knownEdges} edges (${Math.round(readiness!.readiness * 100)}%), --require-ready is ${Math.round(requireReady * 100)}%; not ready: ${left.map((e) => `${e.edge} (${e.bytesLeft} bytes left)`).join(', ')}`,
              { remedy: 'wait (`modelcdn deploy --wait`), check `modelcdn status`, or lower --require-ready', details: { readyEdges: readiness!.readyEdges, knownEdges: readiness!.knownEdges } },
            );
          }
        }
      }
      const t = now();
      // the channel flip and the stage's status change commit together
      registry.db.transaction(() => {
        registry.setChannel(name, channel, version);
        if (s?.status === 'staged') state.setStageStatus(name, version, 'deployed', t, { channel, final: JSON.stringify(view(s).edges) });
      })();
      events.emit('channel', { name, channel, version });
      if (s) readiness = view(state.getStage(name, version)!);
      sendJson(
        res,
        200,
        { name, version, channel, previous, deployedAt: new Date(t).toISOString(), notifiedEdges: lastNotified, ...(readiness ? { readiness: { readyEdges: readiness.readyEdges, knownEdges: readiness.knownEdges } } : {}) },
        { 'cache-control': 'no-store' },
      );
    }),
    route(['GET', 'HEAD'], '/v1/plan', 'getPlan', (req, res, _p, url) => {
      const region = url.searchParams.get('region');
      if (region !== null && !REGION_RE.test(region)) throw inputError('BAD_REGION', 'region must be 1-64 characters from A-Z a-z 0-9 . _ -');
      const a = analyze(url.searchParams.get('fresh') === '1');
      const p = a.plan;
      const windows = [...a.windows].filter(([r]) => region === null || r === region);
      const regions = p.regions.filter((x) => region === null || x.name === region);
      const body =
        region === null
          ? p
          : { ...p, placements: p.placements.filter((x) => x.region === region), lazy: p.lazy.filter((x) => x.region === region), regions, totalSavedBytes: regions.reduce((n, r) => n + r.savedBytes, 0) };
      sendJson(res, 200, { ...body, learnedWindows: Object.fromEntries(windows.map(([r, w]) => [r, w?.text ?? null])), releases: releases() }, { 'cache-control': 'no-store' }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/v1/prefetch/set', 'getPrefetchSet', (req, res, _p, url) => {
      const { edge, region } = edgeOf(url);
      sendJson(res, 200, setFor(edge, region), { 'cache-control': 'no-store' }, req.method === 'HEAD');
    }),
    route('GET', '/v1/prefetch/events', 'prefetchEvents', (req, res, _p, url) => {
      const { edge, region } = edgeOf(url);
      state.touchEdge({ edge, region }, now());
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      res.write('retry: 1000\n\n');
      const s: Subscriber = { edge, region, url: peerUrlOf(url), res, last: '' };
      subs.add(s);
      analysis = undefined; // a new region may change the plan
      refresh(); // this edge's set, and its siblings' peer lists
      const bye = () => {
        if (!subs.delete(s)) return;
        state.touchEdge({ edge, region }, now());
        refresh();
      };
      req.on('close', bye);
      res.on('error', bye);
    }),
    route('POST', '/v1/prefetch/readiness', 'postReadiness', async (req, res) => {
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      if (!isObj(body)) throw inputError('BAD_BODY', 'expected {edge, region, items}');
      const edge = body['edge'];
      const region = body['region'];
      if (typeof edge !== 'string' || !EDGE_ID_RE.test(edge)) throw inputError('BAD_EDGE', 'edge must be 1-128 characters from A-Z a-z 0-9 . _ : -');
      if (typeof region !== 'string' || !REGION_RE.test(region)) throw inputError('BAD_REGION', 'region must be 1-64 characters from A-Z a-z 0-9 . _ -');
      const items = body['items'];
      if (!Array.isArray(items)) throw inputError('BAD_ITEMS', 'items must be an array');
      if (items.length > MAX_READINESS_ITEMS) throw httpError(413, 'TOO_MANY_ITEMS', 'input', `a readiness report may hold at most ${MAX_READINESS_ITEMS} items`);
      const rows = items.map((it: unknown, i: number) => {
        if (!isObj(it)) throw inputError('BAD_ITEMS', `items[${i}] is not an object`);
        const id = it['id'];
        if (typeof id !== 'string' || id.length > 300) throw inputError('BAD_ITEMS', `items[${i}].id must be a string`);
        const totalBytes = nonNeg(it['totalBytes'], `items[${i}].totalBytes`);
        const doneBytes = nonNeg(it['doneBytes'], `items[${i}].doneBytes`);
        if (doneBytes > totalBytes) throw inputError('BAD_ITEMS', `items[${i}]: doneBytes exceeds totalBytes`);
        const err = it['error'];
        return {
          item: id,
          name: validateModelName(it['name'] as string),
          version: validateVersion(it['version'] as string),
          totalBytes,
          doneBytes,
          ready: it['ready'] === true,
          error: typeof err === 'string' ? err.slice(0, 500) : null,
        };
      });
      const opt = (k: string) => (body[k] === undefined || body[k] === null ? null : nonNeg(body[k], k));
      const window = typeof body['window'] === 'string' ? body['window'].slice(0, 100) : null;
      const t = now();
      state.touchEdge({ edge, region, window, rateBytesPerSec: opt('rateBytesPerSec'), pinCapacityBytes: opt('pinCapacityBytes') }, t);
      state.putReadiness(edge, region, rows, t);
      sendJson(res, 202, { stored: rows.length }, { 'cache-control': 'no-store' });
    }),
  ];

  /** per model: release cadence from its ready versions (median interval, next expected release) */
  function releases(): Record<string, { releases: number; medianIntervalHours: number | null; nextExpectedAt: string | null; regularity: number }> {
    const out: Record<string, { releases: number; medianIntervalHours: number | null; nextExpectedAt: string | null; regularity: number }> = {};
    for (const m of registry.listModels()) {
      const c = releaseCadence(registry.listVersions(m.name).map((v) => v.readyAt ?? v.createdAt));
      out[m.name] = {
        releases: c.releases,
        medianIntervalHours: c.medianIntervalMs === undefined ? null : Math.round((c.medianIntervalMs / 3_600_000) * 100) / 100,
        nextExpectedAt: c.nextExpectedAt === undefined ? null : new Date(c.nextExpectedAt).toISOString(),
        regularity: Math.round(c.regularity * 100) / 100,
      };
    }
    return out;
  }

  /** the URL siblings can reach this edge at (`url` query parameter), if it gave a usable one */
  function peerUrlOf(url: URL): string | undefined {
    const u = url.searchParams.get('url');
    if (!u || u.length > 300) return undefined;
    try {
      const p = new URL(u);
      return p.protocol === 'http:' || p.protocol === 'https:' ? p.origin : undefined;
    } catch {
      return undefined;
    }
  }

  function edgeOf(url: URL): { edge: string; region: string } {
    const region = url.searchParams.get('region') ?? '';
    if (!REGION_RE.test(region)) throw inputError('BAD_REGION', 'region must be 1-64 characters from A-Z a-z 0-9 . _ -');
    const edge = url.searchParams.get('edge') ?? region;
    if (!EDGE_ID_RE.test(edge)) throw inputError('BAD_EDGE', 'edge must be 1-128 characters from A-Z a-z 0-9 . _ : -');
    return { edge, region };
  }

  return {
    routes,
    state,
    stages: () => state.listStages({ since: now() - STAGE_HISTORY_MS }).map(view),
    placementPins() {
      const pins = new Map<string, { region: string; model: string; pinnedBytes: number }>();
      for (const p of analyze().plan.placements) {
        const k = `${p.region}\0${p.model}`;
        const e = pins.get(k) ?? { region: p.region, model: p.model, pinnedBytes: 0 };
        e.pinnedBytes += p.size;
        pins.set(k, e);
      }
      return [...pins.values()];
    },
    plan: (fresh = false) => analyze(fresh).plan,
    refresh,
    subscribers: () => subs.size,
    close() {
      if (planTimer) clearInterval(planTimer);
      clearInterval(heartbeat);
      events.off('channel', onChannel);
      events.off('version-ready', onReady);
      for (const s of subs) s.res.end();
      subs.clear();
    },
  };
}
