/**
 * A tiny path router over decoded URL segments (from splitUrlPath, which already refused traversal):
 * `:name` binds one segment, a trailing `*name` binds the rest joined by '/'. Knows nothing about
 * the routes themselves.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Params = Record<string, string>;
export type Handler = (req: IncomingMessage, res: ServerResponse, params: Params, url: URL) => Promise<void> | void;

export interface Route {
  methods: string[];
  pattern: string[];
  handler: Handler;
  /** operationId for docs and metrics */
  id: string;
}

export function route(methods: string | string[], path: string, id: string, handler: Handler): Route {
  return { methods: Array.isArray(methods) ? methods : [methods], pattern: path.split('/').filter(Boolean), handler, id };
}

export type MatchResult = { kind: 'match'; route: Route; params: Params } | { kind: 'method'; allow: string[] } | { kind: 'none' };

export function matchRoute(routes: Route[], method: string, segs: string[]): MatchResult {
  const allow = new Set<string>();
  for (const r of routes) {
    const params = matchPattern(r.pattern, segs);
    if (!params) continue;
    if (r.methods.includes(method)) return { kind: 'match', route: r, params };
    for (const m of r.methods) allow.add(m);
  }
  return allow.size ? { kind: 'method', allow: [...allow] } : { kind: 'none' };
}

function matchPattern(pattern: string[], segs: string[]): Params | undefined {
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith('*')) {
      const rest = segs.slice(i);
      if (rest.length === 0 || rest.some((s) => s === '')) return undefined;
      params[p.slice(1)] = rest.join('/');
      return params;
    }
    const s = segs[i];
    if (s === undefined || s === '') return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return undefined;
  }
  return segs.length === pattern.length ? params : undefined;
}
