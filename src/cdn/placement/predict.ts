/**
 * Predictive prefetch (issue 7 §2): decides, for one edge, what to fetch ahead of demand without
 * an explicit stage command — a newer version of a model its clients use that is already deployed
 * in other regions (a rollout in progress), together with the patch from the version its clients
 * run now — and estimates a model's release cadence from its release history so the edge can keep
 * off-peak bandwidth for expected releases. Pure: inputs are the edge's demand and the origin's
 * deployment state; output is a prioritized list with a reason per item. No I/O, no clock.
 */
import { inputError } from '../../errors.ts';

export interface EdgeDemand {
  model: string;
  version: string;
  /** requests in the recent window at this edge */
  requests: number;
}

export interface Deployment {
  model: string;
  /** the newest deployed version */
  version: string;
  /** regions where it is live */
  regions: string[];
  /** total number of regions it will reach */
  totalRegions: number;
  size: number;
  /** available patches into `version`: from → size */
  patches?: Record<string, number>;
}

export interface PrefetchItem {
  model: string;
  version: string;
  kind: 'full' | 'patch';
  /** for patches: the version the edge's clients run now */
  fromVersion?: string;
  size: number;
  /** expected requests it will serve (the edge's recent demand for the model) */
  priority: number;
  reason: string;
}

/**
 * For an edge in `region`: every model its clients asked for at least `minRequests` times whose
 * newest version is live somewhere but not yet here → the full artifact, plus the patch from the
 * version most of its clients use (when the origin has one). Sorted by expected requests.
 */
export function predictPrefetch(region: string, demand: EdgeDemand[], deployments: Deployment[], opts: { minRequests?: number } = {}): PrefetchItem[] {
  const minReq = opts.minRequests ?? 2;
  const byModel = new Map<string, Map<string, number>>();
  for (const d of demand) {
    if (!(d.requests >= 0)) throw inputError('BAD_PREDICT_INPUT', `demand for ${d.model}@${d.version} has a bad request count`);
    const m = byModel.get(d.model) ?? new Map<string, number>();
    m.set(d.version, (m.get(d.version) ?? 0) + d.requests);
    byModel.set(d.model, m);
  }
  const out: PrefetchItem[] = [];
  for (const dep of deployments) {
    const versions = byModel.get(dep.model);
    if (!versions) continue;
    if (dep.regions.includes(region)) continue; // live here already: ordinary demand takes over
    if (dep.regions.length === 0) continue; // not deployed anywhere yet: that is staging's job
    let total = 0;
    let main: string | undefined;
    let mainReq = -1;
    for (const [v, n] of versions) {
      if (v === dep.version) continue;
      total += n;
      if (n > mainReq || (n === mainReq && main !== undefined && v > main)) {
        main = v;
        mainReq = n;
      }
    }
    if (total < minReq || main === undefined) continue;
    const share = `${dep.regions.length}/${dep.totalRegions} regions`;
    out.push({
      model: dep.model,
      version: dep.version,
      kind: 'full',
      size: dep.size,
      priority: total,
      reason: `${dep.model}@${dep.version} is live in ${share}; ${total} recent requests here for older versions — the rollout will reach this region`,
    });
    const patch = dep.patches?.[main];
    if (patch !== undefined) {
      out.push({
        model: dep.model,
        version: dep.version,
        kind: 'patch',
        fromVersion: main,
        size: patch,
        priority: mainReq,
        reason: `most clients here run ${dep.model}@${main} (${mainReq} requests): the patch ${main} → ${dep.version} is what they will fetch`,
      });
    }
  }
  out.sort((a, b) => b.priority - a.priority || a.model.localeCompare(b.model) || a.kind.localeCompare(b.kind));
  return out;
}

export interface Cadence {
  releases: number;
  /** median interval between releases (ms), undefined with fewer than 2 releases */
  medianIntervalMs?: number;
  /** the last release + the median interval */
  nextExpectedAt?: number;
  /** 0..1: 1 − coefficient of variation of the intervals, clamped (regular cadence → near 1) */
  regularity: number;
}

/** Release cadence from release times (ms since the epoch, any order). */
export function releaseCadence(times: number[]): Cadence {
  for (const t of times) if (!Number.isFinite(t)) throw inputError('BAD_PREDICT_INPUT', 'release times must be finite numbers');
  const s = [...times].sort((a, b) => a - b);
  if (s.length < 2) return { releases: s.length, regularity: 0 };
  const iv = s.slice(1).map((t, i) => t - s[i]!);
  const sorted = [...iv].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const mean = iv.reduce((a, b) => a + b, 0) / iv.length;
  const sd = Math.sqrt(iv.reduce((a, b) => a + (b - mean) ** 2, 0) / iv.length);
  const regularity = mean > 0 ? Math.max(0, Math.min(1, 1 - sd / mean)) : 0;
  return { releases: s.length, medianIntervalMs: median, nextExpectedAt: s[s.length - 1]! + median, regularity };
}
