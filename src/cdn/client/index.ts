/**
 * Public surface of the modelcdn client: `pull(opts)` (what `modelcdn pull` runs) plus the pieces
 * other areas build on — the resumable parallel blob downloader (chunk-level fetch, prefetch) and the
 * HTTP helper. See docs/client.md.
 */
export { pull, parseRef, compareVersions, isOlder, type PullOptions, type PullResult, type PulledFile, type FileRouteKind } from './pull.ts';
export { downloadBlob, Semaphore, DEFAULT_SEGMENT_SIZE, type DownloadOptions, type DownloadResult } from './download.ts';
export { ClientHttp, normalizeServer, DEFAULT_STALL_MS, DEFAULT_RETRIES } from './http.ts';
export { resolveTrust, pinFilePath, type TrustedKey } from './trust.ts';
export { clientHome, readInstalled, ContentCache, type InstalledState } from './local-state.ts';
