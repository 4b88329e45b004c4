/**
 * Update route planning: given the versions a client holds, the version it wants, the patches
 * available (with sizes) and the size of the packed full download, pick the cheapest way by bytes
 * transferred — nothing, a direct patch, a chain of patches (Dijkstra from every held version), or
 * the full file — with the CPU cost of applying as the tie-breaker, then fewer steps. Pure: plain
 * data in, a Route out; no I/O, no knowledge of HTTP or manifests.
 */
import { inputError } from '../errors.ts';

export interface RouteVersion {
  version: string;
  sha256?: string;
}

export interface RoutePatch {
  from: string;
  to: string;
  size: number;
  method?: string;
  /** relative CPU cost of applying, per patch byte (default by method, see DEFAULT_APPLY_COST) */
  applyCostPerByte?: number;
}

export interface RouteInput {
  have: RouteVersion[];
  want: RouteVersion;
  patches: RoutePatch[];
  /** bytes of the packed full download of `want` (Infinity if it cannot be downloaded whole) */
  fullPackedSize: number;
}

export interface RouteStep {
  from: string;
  to: string;
  size: number;
  method?: string;
}

export type Route =
  | { kind: 'none' }
  | { kind: 'full'; bytes: number }
  | { kind: 'patch' | 'chain'; steps: RouteStep[]; bytes: number; cpu: number };

/**
 * Relative apply cost per patch byte by method: bsdiff decodes bzip2 in JavaScript (slow); binary and
 * tensor decode native zstd. Only the order matters: it breaks ties between routes of equal bytes.
 */
export const DEFAULT_APPLY_COST: Record<string, number> = { tensor: 1, binary: 1, bsdiff: 4 };

interface Cost {
  bytes: number;
  cpu: number;
  steps: number;
}

function less(a: Cost, b: Cost): boolean {
  if (a.bytes !== b.bytes) return a.bytes < b.bytes;
  if (a.cpu !== b.cpu) return a.cpu < b.cpu;
  return a.steps < b.steps;
}

export function planRoute(input: RouteInput): Route {
  const { have, want, patches, fullPackedSize } = input;
  if (!(fullPackedSize >= 0)) throw inputError('ROUTE_BAD_FULL_SIZE', `planRoute: full packed size must be a non-negative number, got ${fullPackedSize}`);
  for (const p of patches) {
    if (!(Number.isFinite(p.size) && p.size >= 0)) throw inputError('ROUTE_BAD_PATCH_SIZE', `planRoute: patch ${p.from} → ${p.to} has an invalid size ${p.size}`);
  }
  const wantId = want.version;
  if (have.some((h) => h.version === wantId || (want.sha256 !== undefined && h.sha256 === want.sha256))) return { kind: 'none' };

  const out = new Map<string, RoutePatch[]>();
  for (const p of patches) {
    if (p.from === p.to) continue;
    let l = out.get(p.from);
    if (!l) out.set(p.from, (l = []));
    l.push(p);
  }
  const best = new Map<string, Cost>();
  const prev = new Map<string, RoutePatch>();
  const done = new Set<string>();
  for (const h of have) best.set(h.version, { bytes: 0, cpu: 0, steps: 0 });
  // Dijkstra; graphs are small (versions of one model), so a linear scan for the minimum is enough
  for (;;) {
    let u: string | undefined;
    let uc: Cost | undefined;
    for (const [v, c] of best) {
      if (!done.has(v) && (!uc || less(c, uc))) {
        u = v;
        uc = c;
      }
    }
    if (u === undefined || !uc) break;
    done.add(u);
    if (u === wantId) break;
    for (const p of out.get(u) ?? []) {
      const rate = p.applyCostPerByte ?? DEFAULT_APPLY_COST[p.method ?? ''] ?? 1;
      const c: Cost = { bytes: uc.bytes + p.size, cpu: uc.cpu + p.size * rate, steps: uc.steps + 1 };
      const old = best.get(p.to);
      if (!done.has(p.to) && (!old || less(c, old))) {
        best.set(p.to, c);
        prev.set(p.to, p);
      }
    }
  }
  const reached = best.get(wantId);
  if (!reached || reached.bytes >= fullPackedSize) {
    if (!Number.isFinite(fullPackedSize)) throw inputError('ROUTE_UNREACHABLE', `planRoute: no patch route to ${wantId} and no full download`);
    return { kind: 'full', bytes: fullPackedSize };
  }
  const steps: RouteStep[] = [];
  for (let v = wantId; prev.has(v); ) {
    const p = prev.get(v)!;
    steps.unshift({ from: p.from, to: p.to, size: p.size, ...(p.method ? { method: p.method } : {}) });
    v = p.from;
  }
  return { kind: steps.length === 1 ? 'patch' : 'chain', steps, bytes: reached.bytes, cpu: reached.cpu };
}
