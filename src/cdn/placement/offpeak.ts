/**
 * Off-peak windows for prefetching: parse a configured window ("01:00-06:00" in an IANA time
 * zone), validate the zone, test whether an instant falls inside, and learn a window from a
 * demand history (the contiguous hours, wrapping midnight, with the fewest requests). Pure: time
 * is passed in; the zone arithmetic uses Intl (no I/O).
 */
import { inputError } from '../../errors.ts';

export interface OffPeakWindow {
  /** minutes after local midnight, end in 1..1440; end < start means the window wraps midnight */
  startMin: number;
  endMin: number;
  /** IANA time zone of the minutes ('UTC' for learned windows) */
  timeZone: string;
}

const WINDOW_RE = /^([01]?[0-9]|2[0-3]):([0-5][0-9])-([01]?[0-9]|2[0-4]):([0-5][0-9])$/;

export function validateTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw inputError('BAD_TIMEZONE', `unknown time zone '${tz}'`, { timeZone: tz }, 'use an IANA name such as Europe/Paris or UTC');
  }
}

/** "01:00-06:00" → a window; equal start and end, or 24:xx other than 24:00, are errors. */
export function parseWindow(s: string, timeZone = 'UTC'): OffPeakWindow {
  const m = WINDOW_RE.exec(s.trim());
  if (!m) throw inputError('BAD_WINDOW', `off-peak window '${s}' is not HH:MM-HH:MM`, { window: s }, 'e.g. --offpeak 01:00-06:00');
  const startMin = Number(m[1]) * 60 + Number(m[2]);
  const endH = Number(m[3]);
  if (endH === 24 && m[4] !== '00') throw inputError('BAD_WINDOW', `off-peak window '${s}': end after 24:00`, { window: s });
  const endMin = endH * 60 + Number(m[4]); // 24:00 = 1440, the end of the day
  if (startMin === endMin) throw inputError('BAD_WINDOW', `off-peak window '${s}' is empty (start equals end)`, { window: s });
  return { startMin, endMin, timeZone: validateTimeZone(timeZone) };
}

export function formatWindow(w: OffPeakWindow): string {
  const f = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return `${f(w.startMin)}-${f(w.endMin === 0 ? 1440 : w.endMin)} ${w.timeZone}`;
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();

/** minutes after local midnight of `ms` in `timeZone` */
export function localMinutes(ms: number, timeZone: string): number {
  if (timeZone === 'UTC') {
    const d = new Date(ms);
    return d.getUTCHours() * 60 + d.getUTCMinutes();
  }
  let f = fmtCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    fmtCache.set(timeZone, f);
  }
  let h = 0;
  let m = 0;
  for (const p of f.formatToParts(new Date(ms))) {
    if (p.type === 'hour') h = Number(p.value) % 24;
    else if (p.type === 'minute') m = Number(p.value);
  }
  return h * 60 + m;
}

export function inWindow(ms: number, w: OffPeakWindow): boolean {
  const t = localMinutes(ms, w.timeZone);
  return w.startMin < w.endMin ? t >= w.startMin && t < w.endMin : t >= w.startMin || t < w.endMin;
}

export interface LearnedWindow extends OffPeakWindow {
  /** share of the day's requests that fall inside the window */
  share: number;
}

/**
 * The `hours`-long window (whole hours, wrapping midnight) with the fewest requests in a 24-entry
 * hour-of-day profile (index = hour in `timeZone`, UTC by default). Ties go to the earliest start.
 */
export function learnOffPeak(hourly: ArrayLike<number>, hours = 5, timeZone = 'UTC'): LearnedWindow {
  if (hourly.length !== 24) throw inputError('BAD_PROFILE', `hour-of-day profile must have 24 entries, got ${hourly.length}`);
  if (!(Number.isInteger(hours) && hours >= 1 && hours <= 23)) throw inputError('BAD_WINDOW', `off-peak window length must be 1..23 hours, got ${hours}`);
  let total = 0;
  for (let i = 0; i < 24; i++) {
    const v = hourly[i]!;
    if (!Number.isFinite(v) || v < 0) throw inputError('BAD_PROFILE', `hour-of-day profile entry ${i} is not a non-negative number`);
    total += v;
  }
  let best = 0;
  let bestSum = Infinity;
  for (let s = 0; s < 24; s++) {
    let sum = 0;
    for (let k = 0; k < hours; k++) sum += hourly[(s + k) % 24]!;
    if (sum < bestSum - 1e-9 * Math.max(1, total)) {
      bestSum = sum;
      best = s;
    }
  }
  return { startMin: best * 60, endMin: ((best + hours) % 24) * 60, timeZone, share: total > 0 ? bestSum / total : hours / 24 };
}
