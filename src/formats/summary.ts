/**
 * `summarizeLayout(layout)`: the facts `modelcdn inspect` shows — tensor and parameter counts,
 * bytes per dtype, the largest tensors, and format facts (opset/producer for ONNX, metadata for
 * safetensors/GGUF, graph vs layers for tfjs). Pure; reads nothing.
 */
import { numel, type ModelLayout, type TensorInfo } from './types.ts';

export interface LayoutSummary {
  format: ModelLayout['format'];
  size: number;
  tensorCount: number;
  parameterCount: number;
  /** bytes of tensor data (inside the file and in external files/shards) */
  tensorBytes: number;
  /** bytes of the file that are not tensor data (headers, graph, JSON) */
  containerBytes: number;
  dtypes: Record<string, { count: number; bytes: number; parameters: number }>;
  largest: { name: string; dtype: string; shape: number[]; bytes: number }[];
  meta: Record<string, unknown>;
}

/** The logical (whole-tensor) view of a TensorInfo: pieces of split tfjs tensors count once. */
function logical(t: TensorInfo): { dtype: string; shape: number[]; bytes: number; first: boolean } {
  const x = t.extra ?? {};
  if (typeof x['pieces'] === 'number') {
    return { dtype: String(x['tensorDType'] ?? t.dtype), shape: (x['tensorShape'] as number[]) ?? t.shape, bytes: Number(x['tensorLength'] ?? t.length), first: x['piece'] === 0 };
  }
  if (x['logicalShape']) return { dtype: String(x['logicalDType'] ?? t.dtype), shape: x['logicalShape'] as number[], bytes: t.length, first: true };
  return { dtype: t.dtype, shape: t.shape, bytes: t.length, first: true };
}

export function summarizeLayout(layout: ModelLayout, top = 10): LayoutSummary {
  const dtypes: LayoutSummary['dtypes'] = {};
  const whole: LayoutSummary['largest'] = [];
  let params = 0;
  let tensorBytes = 0;
  let inFile = 0;
  for (const t of layout.tensors) {
    if (!t.file) inFile += t.length;
    const l = logical(t);
    if (!l.first) continue;
    const n = numel(l.shape);
    params += n;
    tensorBytes += l.bytes;
    const d = (dtypes[l.dtype] ??= { count: 0, bytes: 0, parameters: 0 });
    d.count++;
    d.bytes += l.bytes;
    d.parameters += n;
    whole.push({ name: t.name, dtype: l.dtype, shape: l.shape, bytes: l.bytes });
  }
  whole.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
  return {
    format: layout.format,
    size: layout.size,
    tensorCount: whole.length,
    parameterCount: params,
    tensorBytes,
    containerBytes: Math.max(0, layout.size - inFile),
    dtypes,
    largest: whole.slice(0, top),
    meta: layout.meta,
  };
}
