/**
 * Transfer-set loading for distillation: a CSV of numeric features (optionally gzip-compressed, an
 * optional header row, the label in the last column when `labels` is set) or a safetensors file of
 * inputs (tensor "inputs"/"x" or the only floating-point tensor, first dim = samples; "labels" an
 * integer tensor). Parsing is pure (bytes in, `Dataset` out); `loadDataset` is the thin file adapter.
 * Also holds the shape/label checks against a teacher, so every bad-input error names expected vs found.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { fromSystemError, inputError } from '../errors.ts';

export interface Dataset {
  /** samples × numel(sampleShape), row-major */
  x: Float32Array;
  n: number;
  /** shape of one sample (CSV: [features]) */
  sampleShape: number[];
  labels?: Int32Array;
  source: string;
}

export const MAX_DATA_BYTES = 2 ** 31 - 1;
export const MAX_CSV_COLUMNS = 1 << 20;
export const MAX_LABEL = 1 << 20;

/** Parse CSV text: numbers separated by commas (or semicolons/tabs); a non-numeric first row is a header. */
export function parseCsvDataset(text: string, opts: { labels: boolean; source?: string }): Dataset {
  const source = opts.source ?? 'CSV';
  const lines = text.split(/\r?\n/);
  const rows: number[][] = [];
  let width = -1;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(/[,;\t]/);
    const vals = cells.map((c) => (c.trim() === '' ? NaN : Number(c)));
    if (vals.some((v) => !Number.isFinite(v))) {
      if (rows.length === 0 && width === -1) {
        width = cells.length; // header row
        continue;
      }
      const col = vals.findIndex((v) => !Number.isFinite(v));
      throw inputError('DISTILL_CSV_NOT_NUMERIC', `${source}: line ${li + 1}, column ${col + 1}: expected a number, found "${cells[col]!.trim()}"`, { line: li + 1 });
    }
    if (vals.length > MAX_CSV_COLUMNS) throw inputError('DISTILL_CSV_TOO_WIDE', `${source}: line ${li + 1} has ${vals.length} columns, at most ${MAX_CSV_COLUMNS}`);
    if (width !== -1 && vals.length !== width) {
      throw inputError('DISTILL_CSV_RAGGED', `${source}: line ${li + 1} has ${vals.length} columns, expected ${width} like the first row`, { line: li + 1 });
    }
    width = vals.length;
    rows.push(vals);
  }
  if (rows.length === 0) throw inputError('DISTILL_DATA_EMPTY', `${source}: no data rows`);
  const features = opts.labels ? width - 1 : width;
  if (features < 1) throw inputError('DISTILL_CSV_NO_FEATURES', `${source}: ${width} column(s), expected features${opts.labels ? ' plus a label column' : ''}`);
  const n = rows.length;
  const x = new Float32Array(n * features);
  const labels = opts.labels ? new Int32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    for (let j = 0; j < features; j++) x[i * features + j] = r[j]!;
    if (labels) {
      const l = r[features]!;
      if (!Number.isInteger(l) || l < 0 || l > MAX_LABEL) {
        throw inputError('DISTILL_LABEL_INVALID', `${source}: row ${i + 1}: label ${l} is not a class index (expected an integer ≥ 0)`, { row: i + 1, label: l });
      }
      labels[i] = l;
    }
  }
  return { x, n, sampleShape: [features], ...(labels ? { labels } : {}), source };
}

/** Read a CSV (.csv or .csv.gz, detected by the gzip magic) or safetensors dataset file. */
export async function loadDataset(path: string, opts: { labels: boolean }): Promise<Dataset> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  if (bytes.length > MAX_DATA_BYTES) throw inputError('DISTILL_DATA_TOO_LARGE', `${path}: ${bytes.length} bytes, at most ${MAX_DATA_BYTES}`);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_DATA_BYTES });
    } catch (e) {
      throw inputError('DISTILL_DATA_GZIP', `${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (/\.safetensors$/i.test(path) || looksLikeSafetensors(bytes)) {
    const { parseSafetensorsDataset } = await import('./data-safetensors.ts');
    return parseSafetensorsDataset(bytes, { labels: opts.labels, source: path });
  }
  return parseCsvDataset(new TextDecoder('utf-8', { fatal: false }).decode(bytes), { labels: opts.labels, source: path });
}

function looksLikeSafetensors(b: Uint8Array): boolean {
  if (b.length < 10) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = dv.getBigUint64(0, true);
  return len > 1n && len < BigInt(b.length) && b[8] === 0x7b; // '{'
}

/** Shape of a teacher input with unknown dims as null (batch dim excluded). */
export type TeacherDims = (number | null)[];

/**
 * Fit the data's samples to the teacher's input dims: same rank with matching fixed dims, or a flat
 * CSV row whose length equals the product of fully known dims (reshaped). Returns the sample shape.
 */
export function fitSampleShape(data: Dataset, dims: TeacherDims, teacherName: string): number[] {
  const fmt = (d: TeacherDims) => `[${d.map((v) => (v === null ? '?' : v)).join(',')}]`;
  const found = `[${data.sampleShape.join(',')}]`;
  if (dims.length === data.sampleShape.length && dims.every((d, i) => d === null || d === data.sampleShape[i])) return data.sampleShape;
  const numel = data.sampleShape.reduce((a, b) => a * b, 1);
  if (dims.every((d) => d !== null) && (dims as number[]).reduce((a, b) => a * b, 1) === numel) return dims as number[];
  throw inputError(
    'DISTILL_DATA_SHAPE',
    `${data.source}: samples have shape ${found} (${numel} values), but teacher ${teacherName} expects input ${fmt(dims)} per sample`,
    { expected: dims, found: data.sampleShape },
    'give data shaped like the teacher input',
  );
}

/** Labels must index the teacher's classes. */
export function checkLabels(data: Dataset, numClasses: number): void {
  if (!data.labels) return;
  for (let i = 0; i < data.n; i++) {
    const l = data.labels[i]!;
    if (l < 0 || l >= numClasses) {
      throw inputError(
        'DISTILL_LABEL_OUT_OF_RANGE',
        `${data.source}: row ${i + 1} has label ${l}, expected 0..${numClasses - 1} (the teacher outputs ${numClasses} classes)`,
        { row: i + 1, label: l, classes: numClasses },
      );
    }
  }
}
