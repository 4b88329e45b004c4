/**
 * Finds the constant tensors of an ONNX graph (initializers and Constant nodes, in the main graph
 * and in subgraphs of If/Loop/Scan) and classifies each by how it is consumed: a weight of a
 * Conv/ConvTranspose/MatMul/Gemm/LSTM/GRU/RNN (with its output-channel axis and its reduction axis),
 * an embedding table of Gather, or something else (bias, normalization parameter, shape, index…).
 * Pure analysis over the decoded model from src/formats/onnx; it never edits the model.
 */
import type { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor } from '../../formats/onnx/model.ts';
import { tensorShape } from '../../formats/onnx/model.ts';

export type WeightKind = 'weight' | 'embedding';

export interface TensorUse {
  op: string;
  input: number;
  node: OnnxNode;
}

/** How a consumer uses a constant at one input slot. */
export interface WeightRole {
  kind: WeightKind;
  /** output-channel axis (per-channel quantization), normalized to ≥ 0 */
  channelAxis: number;
  /** reduction (input-feature) axis, for 2:4 groups; null where it is not defined */
  reduceAxis: number | null;
}

/** A constant tensor found in the model and where it lives. */
export interface ConstantTensor {
  name: string;
  tensor: OnnxTensor;
  graph: OnnxGraph;
  /** '' for the main graph, else a path like `If_0.then_branch` */
  graphPath: string;
  /** the Constant node that holds it (undefined for an initializer) */
  constantNode?: OnnxNode;
  uses: TensorUse[];
  /** also a graph input or output (so it must keep its value and name) */
  isGraphIO: boolean;
}

const NORM_OPS = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'RMSNormalization']);

export function isNormalizationUse(u: TensorUse): boolean {
  return NORM_OPS.has(u.op) && u.input > 0;
}

function attrInt(node: OnnxNode, name: string, dflt: number): number {
  const a = node.attribute.find((x: OnnxAttribute) => x.name === name);
  return a?.i === undefined ? dflt : Number(a.i);
}

/** The role of a constant of rank `rank` used at `use`, or null if that use is not a weight. */
export function weightRole(use: TensorUse, rank: number): WeightRole | null {
  const norm = (ax: number) => (ax < 0 ? ax + rank : ax);
  switch (use.op) {
    case 'Conv':
      return use.input === 1 && rank >= 3 ? { kind: 'weight', channelAxis: 0, reduceAxis: 1 } : null;
    case 'ConvTranspose':
      return use.input === 1 && rank >= 3 ? { kind: 'weight', channelAxis: 1, reduceAxis: 0 } : null;
    case 'MatMul':
      if (rank < 2) return null;
      if (use.input === 1) return { kind: 'weight', channelAxis: norm(-1), reduceAxis: norm(-2) };
      if (use.input === 0) return { kind: 'weight', channelAxis: norm(-2), reduceAxis: norm(-1) };
      return null;
    case 'Gemm': {
      if (rank !== 2) return null;
      if (use.input === 1) return attrInt(use.node, 'transB', 0) ? { kind: 'weight', channelAxis: 0, reduceAxis: 1 } : { kind: 'weight', channelAxis: 1, reduceAxis: 0 };
      if (use.input === 0) return attrInt(use.node, 'transA', 0) ? { kind: 'weight', channelAxis: 1, reduceAxis: 0 } : { kind: 'weight', channelAxis: 0, reduceAxis: 1 };
      return null;
    }
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return (use.input === 1 || use.input === 2) && rank === 3 ? { kind: 'weight', channelAxis: 1, reduceAxis: 2 } : null;
    case 'Gather':
      return use.input === 0 && rank === 2 ? { kind: 'embedding', channelAxis: 0, reduceAxis: null } : null;
    default:
      return null;
  }
}

/** Ops that only move or reshape their first input: a weight may pass through them on its way to its consumer. */
const PASS_THROUGH: Record<string, (input: number) => boolean> = {
  Identity: (i) => i === 0,
  Reshape: (i) => i === 0,
  Transpose: (i) => i === 0,
  Squeeze: (i) => i === 0,
  Unsqueeze: (i) => i === 0,
  Flatten: (i) => i === 0,
  Slice: (i) => i === 0,
  Split: (i) => i === 0,
  Gather: (i) => i === 0,
  Concat: () => true,
  Cast: (i) => i === 0,
};

/** Every use of every value name, over the main graph and all subgraphs. */
export function buildConsumerIndex(model: OnnxModel): Map<string, TensorUse[]> {
  const idx = new Map<string, TensorUse[]>();
  const visit = (g: OnnxGraph) => {
    for (const n of g.node) {
      n.input.forEach((name, i) => {
        if (!name) return;
        let l = idx.get(name);
        if (!l) idx.set(name, (l = []));
        l.push({ op: n.op_type ?? '', input: i, node: n });
      });
      for (const s of graphsOf(n)) visit(s.graph);
    }
  };
  if (model.graph) visit(model.graph);
  return idx;
}

/**
 * The single role shared by all uses of a constant, or a reason why there is none (unsupported
 * consumer, normalization parameter, conflicting axes). With a consumer index, a constant that
 * reaches weight inputs only through data-movement ops (Slice, Transpose, Reshape, Concat…) is a
 * "derived" weight: its layout at the consumer is unknown, so it gets per-row scales (axis 0).
 */
export function commonRole(c: ConstantTensor, rank: number, consumers?: Map<string, TensorUse[]>): { role: WeightRole; via?: string[] } | { reason: string } {
  if (c.uses.length === 0) return { reason: c.isGraphIO ? 'graph output' : 'not consumed by any node' };
  let role: WeightRole | null = null;
  let derived = false;
  const via = new Set<string>();
  for (const u of c.uses) {
    if (isNormalizationUse(u)) return { reason: `normalization parameter of ${u.op}` };
    const r = weightRole(u, rank);
    if (r) {
      if (role && (role.channelAxis !== r.channelAxis || role.kind !== r.kind)) return { reason: `conflicting uses (${c.uses.map((x) => `${x.op}:${x.input}`).join(', ')})` };
      role = r;
      continue;
    }
    const pass = PASS_THROUGH[u.op];
    if (!consumers || !pass || !pass(u.input)) return { reason: `used by ${u.op} input ${u.input} (not a weight input)` };
    const bad = terminalNonWeight(u, consumers, via, 0);
    if (bad) return { reason: `reaches ${bad} through ${u.op} (not a weight input)` };
    derived = true;
  }
  if (derived) {
    if (role) return { reason: `used both directly (${role.kind}) and through data-movement ops (${[...via].join(', ')})` };
    return { role: { kind: 'weight', channelAxis: 0, reduceAxis: null }, via: [...via] };
  }
  return { role: role! };
}

/** Follow a pass-through use to its terminal consumers; return the first one that is not a weight input. */
function terminalNonWeight(u: TensorUse, consumers: Map<string, TensorUse[]>, via: Set<string>, depth: number): string | undefined {
  if (depth > 8) return `a chain of ${depth} data-movement ops`;
  via.add(u.op);
  for (const out of u.node.output) {
    const next = consumers.get(out) ?? [];
    if (next.length === 0) return `graph output ${out}`;
    for (const v of next) {
      if (isNormalizationUse(v)) return `${v.op} (normalization)`;
      if (weightRole(v, 2) || weightRole(v, 3)) continue;
      const pass = PASS_THROUGH[v.op];
      if (!pass || !pass(v.input)) return `${v.op} input ${v.input}`;
      const bad = terminalNonWeight(v, consumers, via, depth + 1);
      if (bad) return bad;
    }
  }
  return undefined;
}

export function graphsOf(node: OnnxNode): { attr: string; graph: OnnxGraph }[] {
  const out: { attr: string; graph: OnnxGraph }[] = [];
  for (const a of node.attribute) {
    if (a.g) out.push({ attr: a.name ?? '', graph: a.g });
    (a.graphs ?? []).forEach((g, i) => out.push({ attr: `${a.name}[${i}]`, graph: g }));
  }
  return out;
}

/** Every name defined anywhere in the model (tensors, node outputs, value infos, node names). */
export function allNames(model: OnnxModel): Set<string> {
  const names = new Set<string>();
  const visit = (g: OnnxGraph) => {
    for (const t of g.initializer) if (t.name) names.add(t.name);
    for (const v of [...g.input, ...g.output, ...g.value_info]) if (v.name) names.add(v.name);
    for (const n of g.node) {
      for (const o of n.output) names.add(o);
      for (const i of n.input) names.add(i);
      if (n.name) names.add(n.name);
      for (const s of graphsOf(n)) visit(s.graph);
    }
  };
  if (model.graph) visit(model.graph);
  return names;
}

/** A name generator that never collides with names already in the model. */
export function nameAllocator(model: OnnxModel): (base: string) => string {
  const used = allNames(model);
  return (base) => {
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
}

/**
 * Collect all constant tensors with their consumers. A subgraph's node may consume a constant of an
 * enclosing graph (outer-scope reference) unless the subgraph shadows the name.
 */
export function findConstants(model: OnnxModel): ConstantTensor[] {
  const out: ConstantTensor[] = [];
  if (!model.graph) return out;
  // before IR 4 every initializer had to be listed as a graph input too; then that is not a real input
  const irOld = model.ir_version !== undefined && Number(model.ir_version) < 4;
  const visit = (g: OnnxGraph, path: string, scope: Map<string, ConstantTensor>) => {
    const local = new Map(scope);
    const io = new Set([...(irOld ? [] : g.input), ...g.output].map((v) => v.name ?? ''));
    const outs = new Set(g.output.map((v) => v.name ?? ''));
    // names defined in this graph shadow outer ones
    for (const v of g.input) if (v.name && !(irOld && g.initializer.some((t) => t.name === v.name))) local.delete(v.name);
    for (const n of g.node) for (const o of n.output) local.delete(o);
    for (const t of g.initializer) {
      if (!t.name) continue;
      const c: ConstantTensor = { name: t.name, tensor: t, graph: g, graphPath: path, uses: [], isGraphIO: io.has(t.name) };
      out.push(c);
      local.set(t.name, c);
    }
    for (const n of g.node) {
      if (n.op_type === 'Constant' && (n.domain ?? '') === '' && n.output.length === 1) {
        const a = n.attribute.find((x) => x.name === 'value' && x.t);
        if (a?.t) {
          const name = n.output[0]!;
          const c: ConstantTensor = { name, tensor: a.t, graph: g, graphPath: path, constantNode: n, uses: [], isGraphIO: outs.has(name) };
          out.push(c);
          local.set(name, c);
        }
      }
    }
    for (const n of g.node) {
      n.input.forEach((inp, i) => {
        const c = local.get(inp);
        if (c) c.uses.push({ op: n.op_type ?? '', input: i, node: n });
      });
      for (const s of graphsOf(n)) {
        // outer-scope uses inside the subgraph are recorded against the outer constant
        visit(s.graph, `${path ? path + '/' : ''}${n.name || n.op_type}.${s.attr}`, local);
      }
    }
  };
  visit(model.graph, '', new Map());
  return out;
}

export function constantShape(c: ConstantTensor): number[] {
  return tensorShape(c.tensor);
}

/** The model's default-domain opset version. */
export function defaultOpset(model: OnnxModel): number {
  const o = model.opset_import.find((x) => (x.domain ?? '') === '' || x.domain === 'ai.onnx');
  return o?.version === undefined ? 1 : Number(o.version);
}
