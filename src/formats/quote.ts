/**
 * `q(name)`: a file-supplied name made safe for a one-line error message (JSON-quoted, so control
 * characters and newlines are escaped; cut to 80 characters). Pure; used by every parser here.
 */
export function q(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);
}
