/**
 * Route ids for servers that route by hand (the edge): the same operation ids the origin's route
 * table uses (getBlob, getFile, …), so metrics and logs line up across origin and edges. Pure,
 * cheap string checks on the path; never returns a raw path (bounded label values).
 */

export function routeIdOf(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?');
  const path = q >= 0 ? url!.slice(0, q) : (url ?? '/');
  const s = path.split('/');
  // s[0] is '' (paths start with '/')
  const [, a, b, c, d, e] = s;
  const n = s.length - 1;
  if (n === 1 && a === '') return 'web';
  if (a === 'assets' || (n === 1 && a === 'index.html')) return 'web';
  if (n === 1 && a === 'healthz') return 'health';
  if (n === 1 && a === 'metrics') return 'metrics';
  if (n === 1 && a === 'openapi.json') return 'openapi';
  if (a === '.well-known') return 'publicKey';
  if (a !== 'v1') return 'unmatched';
  if (b === 'blobs' && n === 3) return 'getBlob';
  if (b === 'edge') return c === 'status' ? 'edgeStatus' : c === 'stats' ? 'edgeStats' : 'unmatched';
  if (b === 'demand') return 'postDemand';
  if (b === 'models') {
    if (n === 2) return 'listModels';
    if (n === 3) return 'getModel';
    if (d === 'channels' && n === 5) return 'getChannel';
    if (d === 'versions' && e !== undefined) {
      if (s[6] === 'manifest' && n === 6) return 'getManifest';
      if (s[6] === 'files' && n >= 7) return 'getFile';
    }
  }
  return 'unmatched';
}
