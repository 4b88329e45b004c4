/**
 * Public API of the delta layer: make and apply patches between two versions of a file (tensor,
 * binary and Debian-compatible bsdiff methods in one container, docs/spec/patch.md), read a patch's
 * header, and plan the cheapest update route. Depends on formats and codec; never on store or cdn.
 */
export { makePatch, applyPatch, readPatchHeader, buildPatch, packedFullSize, AUTO_BSDIFF_MAX_BYTES } from './patch-file.ts';
export type { MakeMethod, MakePatchOptions, PatchResult, PatchCandidate } from './patch-file.ts';
export type { PatchHeader, PatchMethod } from './container.ts';
export { planRoute, DEFAULT_APPLY_COST } from './route.ts';
export type { Route, RouteInput, RoutePatch, RouteStep, RouteVersion } from './route.ts';
export { bsdiff, bspatch } from './bsdiff/bsdiff.ts';
export { suffixArray } from './sais.ts';
export { applyPatchBytes, patchHeaderOf } from './apply-core.ts';
