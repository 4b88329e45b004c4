/** Prometheus metrics for origin and edge servers (see metrics.ts). */
export * from './metrics.ts';
export { routeIdOf } from './route-id.ts';
