/**
 * Pure planning parts of prefetch and placement (issue 7 §1–3): demand aggregation with sliding
 * windows and decay, the placement planner, off-peak windows (configured or learned) and the
 * token bucket for prefetch bandwidth caps. The origin and the edge call these; the simulator uses
 * them too. Nothing here does I/O.
 */
export * from './demand.ts';
export * from './planner.ts';
export * from './offpeak.ts';
export * from './token-bucket.ts';
export * from './predict.ts';
