/**
 * The training loop shared by distillation and plain supervised training (teacher training, model
 * family checkpoints). Loss = alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−alpha)·CE(labels, s)
 * (either term alone when only teacher logits or only labels exist); Adam; seeded mini-batch order;
 * early stopping on validation agreement (with the teacher, or accuracy against labels when there is
 * no teacher) keeping the best epoch's weights. No file I/O; progress goes through a callback.
 */
import type { Tf } from './tf.ts';
import { mulberry32, shuffleInPlace } from './rng.ts';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;
type Tensor = import('@tensorflow/tfjs-core').Tensor;

export interface TrainOptions {
  /** samples in the student's layout, n × per */
  x: Float32Array;
  sampleShape: number[];
  classes: number;
  /** teacher logits n × classes (soft targets) */
  teacherLogits?: Float32Array;
  labels?: Int32Array;
  trainIdx: Int32Array;
  valIdx: Int32Array;
  epochs: number;
  batchSize: number;
  learningRate: number;
  temperature: number;
  alpha: number;
  seed: number;
  /** stop after this many epochs without validation improvement */
  patience: number;
  /** only these weights train (default: all trainable) — for last-layer fine-tunes */
  trainableLayers?: string[];
  signal?: AbortSignal;
  onEpochStart?: (epoch: number, batches: number) => { tick(n: number): void; done(): void };
  onEpochEnd?: (e: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  /** validation agreement with the teacher (or accuracy vs labels without a teacher) */
  valScore: number;
}

export interface TrainResult {
  history: EpochStats[];
  bestEpoch: number;
  bestValScore: number;
  stoppedEarly: boolean;
}

export const DEFAULT_BATCH = 64;

/** Gather rows `idx` of an n × per matrix. */
export function gatherRows(x: Float32Array, per: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
  return out;
}

/** Student logits for rows `idx` (inference mode, batched). */
export function predictLogits(tf: Tf, model: LayersModel, x: Float32Array, sampleShape: number[], idx: ArrayLike<number>, batch = 256): Float32Array {
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  for (let i = 0; i < idx.length; i += batch) {
    const sub = Array.from({ length: Math.min(batch, idx.length - i) }, (_, j) => idx[i + j]!);
    const out = tf.tidy(() => {
      const xb = tf.tensor(gatherRows(x, per, sub), [sub.length, ...sampleShape]);
      return (model.apply(xb, { training: false }) as Tensor).dataSync() as Float32Array;
    });
    parts.push(out);
  }
  const total = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) total.set(p, (o += p.length) - p.length);
  return total;
}

function argmax(v: Float32Array, c: number, i: number): number {
  let best = 0;
  for (let j = 1; j < c; j++) if (v[i * c + j]! > v[i * c + best]!) best = j;
  return best;
}

/** Fraction of rows whose argmax agrees: student vs teacher logits, or student vs labels. */
export function agreement(student: Float32Array, c: number, idx: ArrayLike<number>, ref: { logits?: Float32Array; labels?: Int32Array }): number {
  if (idx.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < idx.length; i++) {
    const want = ref.logits ? argmax(ref.logits, c, idx[i]!) : ref.labels![idx[i]!]!;
    if (argmax(student, c, i) === want) ok++;
  }
  return ok / idx.length;
}

export async function train(tf: Tf, model: LayersModel, o: TrainOptions): Promise<TrainResult> {
  const per = o.sampleShape.reduce((a, b) => a * b, 1);
  const c = o.classes;
  const useKd = o.teacherLogits !== undefined;
  const useCe = o.labels !== undefined;
  const wKd = useKd ? (useCe ? o.alpha : 1) : 0;
  const wCe = useCe ? (useKd ? 1 - o.alpha : 1) : 0;
  const T = o.temperature;
  const optimizer = tf.train.adam(o.learningRate);
  const vars = model.trainableWeights
    .filter((w) => !o.trainableLayers || o.trainableLayers.some((l) => w.originalName.startsWith(l + '/')))
    .map((w) => w.read() as import('@tensorflow/tfjs-core').Variable);
  const rand = mulberry32(o.seed);
  const order = Array.from(o.trainIdx);
  const history: EpochStats[] = [];
  let best = -1;
  let bestEpoch = 0;
  let bestWeights: Tensor[] | null = null;
  let since = 0;
  let stoppedEarly = false;
  const valRef = useKd ? { logits: o.teacherLogits! } : { labels: o.labels! };

  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    if (o.signal?.aborted) break;
    shuffleInPlace(order, rand);
    const batches = Math.ceil(order.length / o.batchSize);
    const bar = o.onEpochStart?.(epoch, batches);
    let lossSum = 0;
    for (let b = 0; b < batches; b++) {
      if (o.signal?.aborted) break;
      const idx = order.slice(b * o.batchSize, (b + 1) * o.batchSize);
      const xb = tf.tensor(gatherRows(o.x, per, idx), [idx.length, ...o.sampleShape]);
      const tb = useKd ? tf.tensor2d(gatherRows(o.teacherLogits!, c, idx), [idx.length, c]) : null;
      const yb = useCe ? tf.oneHot(tf.tensor1d(idx.map((i) => o.labels![i]!), 'int32'), c) : null;
      const loss = optimizer.minimize(
        () => {
          const s = model.apply(xb, { training: true }) as import('@tensorflow/tfjs-core').Tensor2D;
          let total = tf.scalar(0);
          if (tb) {
            const pT = tf.softmax(tf.div(tb, T));
            const logPT = tf.logSoftmax(tf.div(tb, T));
            const logPS = tf.logSoftmax(tf.div(s, T));
            const kl = tf.mean(tf.sum(tf.mul(pT, tf.sub(logPT, logPS)), 1));
            total = tf.add(total, tf.mul(kl, wKd * T * T));
          }
          if (yb) {
            const ce = tf.neg(tf.mean(tf.sum(tf.mul(yb, tf.logSoftmax(s)), 1)));
            total = tf.add(total, tf.mul(ce, wCe));
          }
          return total as import('@tensorflow/tfjs-core').Scalar;
        },
        true,
        vars,
      );
      lossSum += (await loss!.data())[0]! * idx.length;
      tf.dispose([xb, loss!, ...(tb ? [tb] : []), ...(yb ? [yb] : [])]);
      bar?.tick(1);
      if (b % 8 === 7) await new Promise((r) => setImmediate(r)); // let signals and I/O through
    }
    bar?.done();
    const valScore = o.valIdx.length > 0 ? agreement(predictLogits(tf, model, o.x, o.sampleShape, o.valIdx), c, o.valIdx, valRef) : 0;
    const st: EpochStats = { epoch, loss: lossSum / Math.max(1, order.length), valScore };
    history.push(st);
    o.onEpochEnd?.(st);
    if (valScore >= best) {
      // ties go to the later epoch (more training at equal validation score)
      best = valScore;
      bestEpoch = epoch;
      if (bestWeights) tf.dispose(bestWeights);
      bestWeights = model.getWeights().map((w) => w.clone());
      since = 0;
    } else if (++since >= o.patience) {
      stoppedEarly = epoch < o.epochs;
      break;
    }
  }
  if (bestWeights) {
    model.setWeights(bestWeights);
    tf.dispose(bestWeights);
  }
  optimizer.dispose();
  return { history, bestEpoch, bestValScore: Math.max(best, 0), stoppedEarly };
}
