/**
 * Weight-only quantization of ONNX models. INT8: each eligible weight (Conv/ConvTranspose/MatMul/
 * Gemm/LSTM/GRU/RNN weights, Gather embedding tables; initializers or Constant nodes, main graph or
 * subgraphs) becomes an int8 tensor plus float scales, dequantized inside the graph so any runtime
 * runs the result: DequantizeLinear (with `axis` for per-channel) at opset ≥ 13, Cast + Mul with a
 * broadcast scale below. FP16/BF16: RNE-cast float32 constants, followed by an in-graph Cast back to
 * float. Shapes, integer tensors, small tensors, normalization parameters, biases and anything not
 * used as a weight stay as they are, each with the reason in the report. Pure: model in, model out.
 */
import { McdnError } from '../../errors.ts';
import { onnxRawByteLength } from '../../formats/onnx/dtypes.ts';
import { makeOnnxTensor, type OnnxModel, type OnnxNode, type OnnxTensor } from '../../formats/onnx/model.ts';
import { castBf16, castF16, quantizeInt8, quantizeInt8Blocks, scalesAsF16 } from './int8.ts';
import {
  ONNX_BFLOAT16, ONNX_FLOAT, ONNX_INT64, onnxDTypeName, ONNX_FLOAT16, ONNX_INT8, bytesView, encodeLike, intAttr, isFloatDataType, makeNode, readConstantF32, replaceConstant,
} from '../onnx/rewrite.ts';
import { buildConsumerIndex, commonRole, constantShape, defaultOpset, findConstants, isNormalizationUse, nameAllocator, type ConstantTensor } from '../onnx/weights.ts';
import { findAmplifier, REL_ERROR_LIMIT, relativeRmsError } from './sensitivity.ts';
import { DEFAULT_BLOCK_SIZE, constantKey, type QuantizeOptions, type QuantizeReport, type TensorReport } from './types.ts';

const dtName = onnxDTypeName;

export function quantizeOnnxModel(model: OnnxModel, opts: QuantizeOptions): { model: OnnxModel; report: QuantizeReport } {
  const opset = defaultOpset(model);
  if (opts.scheme === 'bf16' && opset < 13) {
    throw new McdnError('QUANTIZE_BF16_OPSET', 'input', `bf16 needs ONNX opset ≥ 13 (Cast from bfloat16); this model uses opset ${opset}`, {
      remedy: 'use --scheme fp16 or int8',
    });
  }
  const method =
    opts.scheme !== 'int8' ? 'Cast' : opts.granularity === 'per-block' ? 'Cast+Mul+Reshape (per-block; per-channel where blocks do not fit)' : opset >= 13 ? 'DequantizeLinear' : 'Cast+Mul';
  const alloc = nameAllocator(model);
  const constants = findConstants(model);
  const consumers = buildConsumerIndex(model);
  const tensors: TensorReport[] = [];
  for (const c of constants) {
    const shape = constantShape(c);
    const n = shape.reduce((a, b) => a * b, 1);
    const dt = c.tensor.data_type;
    const base: TensorReport = { name: c.name, ...(c.graphPath ? { graph: c.graphPath } : {}), shape, dtype: dtName(dt), action: 'kept', bytesBefore: onnxRawByteLength(dt ?? 0, n) ?? 0, bytesAfter: 0 };
    const keep = (reason: string) => tensors.push({ ...base, reason, bytesAfter: base.bytesBefore });
    if (!isFloatDataType(dt)) {
      keep(`not a float tensor (${dtName(dt)})`);
      continue;
    }
    if (n < opts.minElements) {
      keep(`small (${n} < --min-elements ${opts.minElements})`);
      continue;
    }
    if (opts.exclude?.test(c.name)) {
      keep('excluded by --exclude');
      continue;
    }
    const key = constantKey(c.graphPath, c.name);
    const skipReason = opts.skip?.get(key);
    if (skipReason !== undefined) {
      keep(skipReason);
      continue;
    }
    if (opts.only && !opts.only.has(key)) {
      keep('not selected');
      continue;
    }
    if (c.isGraphIO) {
      keep('graph input/output');
      continue;
    }
    if (c.tensor.data_location === 1) {
      keep('external data (not supported)');
      continue;
    }
    if (opts.scheme === 'int8') {
      const r = commonRole(c, shape.length, consumers);
      if ('reason' in r) {
        keep(r.reason);
        continue;
      }
      if (dt !== ONNX_FLOAT && dt !== ONNX_FLOAT16) {
        keep(`unsupported dtype for int8: ${dtName(dt)}`);
        continue;
      }
      const halfReason = opts.half?.get(key);
      if (halfReason !== undefined) {
        if (dt !== ONNX_FLOAT) {
          keep(halfReason);
          continue;
        }
        const h = rewriteHalf(model, c, 'fp16', alloc, base);
        tensors.push(h.action === 'fp16' ? { ...h, reason: halfReason } : h);
        continue;
      }
      const b = r.via ? { ...base, via: r.via } : base;
      const red = r.role.reduceAxis;
      const g = red === null ? 0 : blockLength(shape[red]!, opts.blockSize ?? DEFAULT_BLOCK_SIZE);
      // default rules (per-channel without --plain): see sensitivity.ts
      const auto = opts.granularity === 'per-channel' && !opts.plain;
      const amp = auto && dt === ONNX_FLOAT ? findAmplifier(c.uses, consumers) : null;
      if (amp) {
        const h = rewriteHalf(model, c, 'fp16', alloc, b);
        tensors.push(h.action === 'fp16' ? { ...h, reason: `sensitive: output reaches ${amp}` } : h);
        continue;
      }
      if (auto && red !== null && g > 0) {
        const data = readConstantF32(c.tensor);
        const rel = relativeRmsError(data, shape, r.role.channelAxis, quantizeInt8(data, shape, r.role.channelAxis));
        if (rel > REL_ERROR_LIMIT) {
          const t = rewriteInt8Blocks(model, c, shape, r.role.channelAxis, red, g, alloc, b);
          tensors.push({ ...t, reason: `sensitive: per-channel error ${(rel * 100).toFixed(2)} % > ${REL_ERROR_LIMIT * 100} % → per-block` });
          continue;
        }
      }
      if (opts.granularity === 'per-block' && red !== null && g > 0) {
        tensors.push(rewriteInt8Blocks(model, c, shape, r.role.channelAxis, red, g, alloc, b));
      } else {
        tensors.push(rewriteInt8(model, c, shape, r.role.channelAxis, opts.granularity !== 'per-tensor', opset, alloc, b));
      }
    } else {
      const norm = c.uses.find(isNormalizationUse);
      if (norm) {
        keep(`normalization parameter of ${norm.op}`);
        continue;
      }
      if (dt !== ONNX_FLOAT) {
        keep(`already ${dtName(dt)}`);
        continue;
      }
      const r = rewriteHalf(model, c, opts.scheme, alloc, base);
      tensors.push(r);
    }
  }
  const quantized = tensors.filter((t) => t.action !== 'kept');
  if (quantized.length) {
    model.metadata_props = model.metadata_props.filter((p) => p.key !== 'modelcdn.quantization');
    model.metadata_props.push({ key: 'modelcdn.quantization', value: JSON.stringify({ scheme: opts.scheme, granularity: opts.granularity, method }) });
  }
  return {
    model,
    report: { format: 'onnx', scheme: opts.scheme, granularity: opts.granularity, method, opset, tensors },
  };
}

function rewriteInt8(
  model: OnnxModel,
  c: ConstantTensor,
  shape: number[],
  axis: number,
  perChannel: boolean,
  opset: number,
  alloc: (b: string) => string,
  base: TensorReport,
): TensorReport {
  const dt = c.tensor.data_type!;
  const data = readConstantF32(c.tensor);
  const res = quantizeInt8(data, shape, perChannel ? axis : null);
  const qName = alloc(`${c.name}_quantized`);
  const sName = alloc(`${c.name}_scale`);
  const qT = makeOnnxTensor(qName, ONNX_INT8, shape, bytesView(res.q).slice());
  const stored: OnnxTensor[] = [qT];
  const nodes: OnnxNode[] = [];
  const C = res.scales.length;
  if (opset >= 13) {
    const zName = alloc(`${c.name}_zero_point`);
    const sShape = perChannel ? [C] : [];
    stored.push(makeOnnxTensor(sName, ONNX_FLOAT, sShape, bytesView(res.scales).slice()), makeOnnxTensor(zName, ONNX_INT8, sShape, new Uint8Array(C)));
    const attrs = perChannel ? [intAttr('axis', axis)] : [];
    if (dt === ONNX_FLOAT) {
      nodes.push(makeNode('DequantizeLinear', [qName, sName, zName], [c.name], alloc(`${c.name}_DequantizeLinear`), attrs));
    } else {
      const tmp = alloc(`${c.name}_dequantized`);
      nodes.push(makeNode('DequantizeLinear', [qName, sName, zName], [tmp], alloc(`${c.name}_DequantizeLinear`), attrs));
      nodes.push(makeNode('Cast', [tmp], [c.name], alloc(`${c.name}_Cast`), [intAttr('to', dt)]));
    }
  } else {
    // Cast(int8 → float type) then Mul by a scale shaped to broadcast along the channel axis
    const sShape = perChannel ? shape.map((d, i) => (i === axis ? d : 1)) : [];
    const sBytes = encodeLike(dt, res.scales, (v) => castF16(v).bits, (v) => castBf16(v).bits);
    stored.push(makeOnnxTensor(sName, dt, sShape, sBytes));
    const tmp = alloc(`${c.name}_cast`);
    nodes.push(makeNode('Cast', [qName], [tmp], alloc(`${c.name}_Cast`), [intAttr('to', dt)]));
    nodes.push(makeNode('Mul', [tmp, sName], [c.name], alloc(`${c.name}_Mul`)));
  }
  replaceConstant(model, c, stored, nodes, alloc);
  const [smin, smax] = extent(res.scales);
  return {
    ...base,
    action: 'int8',
    axis: perChannel ? axis : null,
    scaleMin: smin,
    scaleMax: smax,
    maxAbsError: res.maxAbsError,
    bytesAfter: stored.reduce((a, t) => a + (t.raw_data?.length ?? 0), 0),
  };
}

/**
 * Block length for a reduction axis of length R: the largest divisor of R that is ≤ `want` and
 * ≥ want/2 (blocks must tile the axis exactly); 0 when none exists or R ≤ want (one block = per-channel).
 */
export function blockLength(R: number, want: number): number {
  if (R <= want) return 0;
  for (let g = want; g >= Math.ceil(want / 2); g--) if (R % g === 0) return g;
  return 0;
}

/** INT8 with one scale per (channel, block along the reduction axis): Cast + Mul + Reshape, any opset ≥ 7. */
function rewriteInt8Blocks(model: OnnxModel, c: ConstantTensor, shape: number[], axis: number, red: number, g: number, alloc: (b: string) => string, base: TensorReport): TensorReport {
  const dt = c.tensor.data_type!;
  const data = readConstantF32(c.tensor);
  // block scales are many: store them as FP16 (+ a Cast) when that loses nothing measurable
  let half: Uint16Array | null = null;
  const res = quantizeInt8Blocks(data, shape, axis, red, g, dt === ONNX_FLOAT ? (s) => {
    const h = scalesAsF16(s);
    half = h?.bits ?? null;
    return h?.values ?? s;
  } : undefined);
  const qName = alloc(`${c.name}_quantized`);
  const sName = alloc(`${c.name}_scale`);
  const shName = alloc(`${c.name}_shape`);
  const shapeBytes = new Uint8Array(new BigInt64Array(shape.map((d) => BigInt(d))).buffer);
  const halfBits = half as Uint16Array | null;
  const stored = [
    makeOnnxTensor(qName, ONNX_INT8, res.blockShape, bytesView(res.q).slice()),
    halfBits
      ? makeOnnxTensor(sName, ONNX_FLOAT16, res.scaleShape, bytesView(halfBits).slice())
      : makeOnnxTensor(sName, dt, res.scaleShape, encodeLike(dt, res.scales, (v) => castF16(v).bits, (v) => castBf16(v).bits)),
    makeOnnxTensor(shName, ONNX_INT64, [shape.length], shapeBytes),
  ];
  const t1 = alloc(`${c.name}_cast`);
  const t2 = alloc(`${c.name}_scaled`);
  const nodes = [makeNode('Cast', [qName], [t1], alloc(`${c.name}_Cast`), [intAttr('to', dt)])];
  let scaleIn = sName;
  if (halfBits) {
    scaleIn = alloc(`${c.name}_scale_f32`);
    nodes.push(makeNode('Cast', [sName], [scaleIn], alloc(`${c.name}_ScaleCast`), [intAttr('to', dt)]));
  }
  nodes.push(makeNode('Mul', [t1, scaleIn], [t2], alloc(`${c.name}_Mul`)), makeNode('Reshape', [t2, shName], [c.name], alloc(`${c.name}_Reshape`)));
  replaceConstant(model, c, stored, nodes, alloc);
  const [smin, smax] = extent(res.scales);
  return {
    ...base,
    action: 'int8',
    axis,
    blockSize: g,
    blockAxis: red,
    scaleMin: smin,
    scaleMax: smax,
    maxAbsError: res.maxAbsError,
    bytesAfter: stored.reduce((a, t) => a + (t.raw_data?.length ?? 0), 0),
  };
}

function rewriteHalf(model: OnnxModel, c: ConstantTensor, scheme: 'fp16' | 'bf16', alloc: (b: string) => string, base: TensorReport): TensorReport {
  const data = readConstantF32(c.tensor);
  const shape = constantShape(c);
  let bits: Uint16Array;
  let err: number;
  if (scheme === 'fp16') {
    const r = castF16(data);
    if (r.overflow) return { ...base, reason: `${r.overflow} values exceed the FP16 range`, bytesAfter: base.bytesBefore };
    bits = r.bits;
    err = r.maxAbsError;
  } else {
    const r = castBf16(data);
    bits = r.bits;
    err = r.maxAbsError;
  }
  const dt = scheme === 'fp16' ? ONNX_FLOAT16 : ONNX_BFLOAT16;
  const hName = alloc(`${c.name}_${scheme}`);
  const stored = [makeOnnxTensor(hName, dt, shape, bytesView(bits).slice())];
  replaceConstant(model, c, stored, [makeNode('Cast', [hName], [c.name], alloc(`${c.name}_Cast`), [intAttr('to', ONNX_FLOAT)])], alloc);
  return { ...base, action: scheme, maxAbsError: err, bytesAfter: bits.byteLength };
}

/** Smallest and largest of `xs` ([Infinity, -Infinity] when empty). */
function extent(xs: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  return [lo, hi];
}
