/**
 * Maps any thrown value to an HTTP error response, using the one category → status table in
 * src/errors.ts (HTTP_STATUS). Internal errors are reported without their message (no internals or
 * secrets leak); McdnErrors keep their stable code, message and remedy. Pure.
 */
import { HTTP_STATUS, McdnError, isMcdnError } from '../../errors.ts';

export interface ErrorBody {
  error: { code: string; category: string; message: string; remedy?: string };
}

export function errorResponse(e: unknown): { status: number; body: ErrorBody } {
  if (isMcdnError(e)) {
    const status = (e.details['httpStatus'] as number | undefined) ?? HTTP_STATUS[e.category];
    const body: ErrorBody = { error: { code: e.code, category: e.category, message: e.message } };
    if (e.remedy) body.error.remedy = e.remedy;
    return { status, body };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', category: 'internal', message: 'internal server error' } } };
}

/** An error with an explicit HTTP status that the category table does not give (405, 413, 416…). */
export function httpError(status: number, code: string, category: McdnError['category'], message: string, remedy?: string): McdnError {
  return new McdnError(code, category, message, { details: { httpStatus: status }, ...(remedy ? { remedy } : {}) });
}

export function notFound(code: string, message: string): McdnError {
  return new McdnError(code, 'not_found', message);
}

/** Cache-Control for content-addressed, never-changing bytes. */
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
/** Cache-Control for channels (they move): a few seconds. */
export const CACHE_SHORT = 'public, max-age=5';
/** Cache-Control for per-version metadata: versions are immutable once ready, but listings change. */
export const CACHE_NONE = 'no-cache';
