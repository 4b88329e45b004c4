/**
 * The CLI's calls to the origin's staging API (stage, unstage, status, deploy, plan): one JSON
 * request helper that turns the origin's error bodies into McdnErrors with the same code, category
 * and remedy, plus typed wrappers. No decisions; used by src/cli/commands/{stage,unstage,status,deploy,plan}.ts.
 */
import { McdnError, inputError } from '../../errors.ts';
import { validateModelName, validateVersion } from '../http/validate.ts';
import type { Plan } from '../placement/index.ts';
import type { StageView } from './origin.ts';

export interface ApiOptions {
  server: string;
  token?: string;
  signal?: AbortSignal;
}

/** NAME@VERSION → parts (a version is required: staging and deploy name exact versions). */
export function parseVersionRef(ref: string, what: string): { name: string; version: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1) throw inputError('BAD_MODEL_REF', `${what}: '${ref}' is not NAME@VERSION`, { ref }, `e.g. modelcdn ${what} demo@1.1`);
  return { name: validateModelName(ref.slice(0, at)), version: validateVersion(ref.slice(at + 1)) };
}

export function serverUrl(server: string | undefined, what: string): string {
  if (!server) throw inputError('NO_SERVER', `${what}: no origin given`, {}, 'pass --server URL or set MODELCDN_SERVER');
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw inputError('BAD_SERVER_URL', `${what}: '${server}' is not a URL`, {}, 'e.g. --server http://127.0.0.1:8080');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw inputError('BAD_SERVER_URL', `${what}: '${server}' is not an http(s) URL`);
  return u.origin + u.pathname.replace(/\/+$/, '');
}

export async function apiJson<T>(o: ApiOptions, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(o.server + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw new McdnError('CANCELLED', 'cancelled', 'cancelled');
    throw new McdnError('SERVER_UNREACHABLE', 'network', `cannot reach ${o.server} (${(e as Error).message})`, { cause: e, remedy: 'check --server / MODELCDN_SERVER' });
  }
  const text = await res.text();
  let j: unknown;
  try {
    j = text ? JSON.parse(text) : undefined;
  } catch {
    j = undefined;
  }
  if (!res.ok) {
    const e = (j as { error?: { code?: string; category?: string; message?: string; remedy?: string } } | undefined)?.error;
    const cat = (e?.category ?? (res.status === 401 ? 'auth' : res.status === 404 ? 'not_found' : res.status === 409 ? 'conflict' : res.status >= 500 ? 'network' : 'input')) as McdnError['category'];
    throw new McdnError(e?.code ?? `HTTP_${res.status}`, cat, e?.message ?? `${method} ${path}: HTTP ${res.status}`, { details: { status: res.status }, ...(e?.remedy ? { remedy: e.remedy } : {}) });
  }
  return j as T;
}

const vpath = (name: string, version: string) => `/v1/stages/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;

export const stage = (o: ApiOptions, name: string, version: string) => apiJson<StageView>(o, 'POST', '/v1/stages', { name, version });
export const unstage = (o: ApiOptions, name: string, version: string) => apiJson<StageView>(o, 'DELETE', vpath(name, version));
export const stageStatus = (o: ApiOptions, name: string, version: string) => apiJson<StageView>(o, 'GET', vpath(name, version));
export const listStages = (o: ApiOptions) => apiJson<{ stages: StageView[] }>(o, 'GET', '/v1/stages');

export interface DeployResult {
  name: string;
  version: string;
  channel: string;
  previous: string | null;
  deployedAt: string;
  notifiedEdges: number;
  readiness?: { readyEdges: number; knownEdges: number };
}

export const deploy = (o: ApiOptions, req: { name: string; version: string; channel: string; requireReady: number }) => apiJson<DeployResult>(o, 'POST', '/v1/deploy', req);

export const fetchPlan = (o: ApiOptions, region?: string) =>
  apiJson<Plan & { now: string; learnedWindows?: Record<string, string | null>; releases?: Record<string, { releases: number; medianIntervalHours: number | null; nextExpectedAt: string | null; regularity: number }> }>(o, 'GET', `/v1/plan?fresh=1${region ? `&region=${encodeURIComponent(region)}` : ''}`);
