/**
 * Staging, instant deploys, predictive prefetch and placement (issue 7 §1–3; docs/prefetch.md): the
 * origin's route module, the edge's prefetcher, the push channel client, the per-edge prefetch sets
 * and the CLI's API calls. Pure planning lives in ../placement.
 */
export { createPrefetchOrigin, parseReadyFraction, type PrefetchOrigin, type PrefetchOriginOptions, type StageView, type EdgeReadiness, type EdgeSetMessage } from './origin.ts';
export { Prefetcher, parseWindowSetting, PIN_PREFIX, DEFAULT_OFFPEAK, type PrefetcherOptions, type PrefetcherStatus, type WindowSetting } from './edge.ts';
export { subscribeSse, SseParser, type SseEvent } from './sse-client.ts';
export { fetchBlobResumable } from './fetcher.ts';
export { versionBlobs, computePlan, type PrefetchSetItem, type PrefetchBlob } from './sets.ts';
export { stage, unstage, stageStatus, listStages, deploy, fetchPlan, type DeployResult } from './client.ts';
