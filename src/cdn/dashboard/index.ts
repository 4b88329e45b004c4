/**
 * The operator dashboard: typed API (api.ts, shared with web/src), aggregation over the registry,
 * the origin's routes + SSE + static front-end (routes.ts), and each edge's status page.
 */
export * from './api.ts';
export { createDashboard, EGRESS_ROUTES, type Dashboard, type DashboardOptions } from './routes.ts';
export { createEdgeStatus, type EdgeStatusPage, type EdgeStatusSource } from './edge-status.ts';
export { staticHandler, WEB_DIST, CSP } from './static.ts';
export { bucketSecondsFor, modelsView, edgeSummaries, placementView, type PlacementPins } from './aggregate.ts';
