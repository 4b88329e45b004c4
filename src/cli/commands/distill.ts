/**
 * `modelcdn distill`: train a small student network to mimic an ONNX teacher classifier on a transfer
 * set and write it as ONNX, with a report of sizes, accuracy and agreement. A thin adapter over
 * src/distill (which does the work); tfjs and onnxruntime load only when the command runs.
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { formatBytes, table } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'distill an ONNX teacher classifier into a much smaller student (ONNX)',
  description:
    'Runs the teacher (onnxruntime) over the transfer set to get soft targets, trains the student with ' +
    'TensorFlow.js (wasm) on T²·KL(teacher_T‖student_T)·alpha + CE(labels)·(1−alpha), stops early on ' +
    'validation agreement, and writes the student as ONNX (checked against the trained network in ' +
    'onnxruntime before it is renamed into place).\n\n' +
    'DATA: a CSV of features (.csv or .csv.gz; with --labels the last column is the class), or a ' +
    'safetensors file with an "inputs" tensor [N,...] (and "labels" [N] with --labels). Samples must fit ' +
    "the teacher's input shape (flat CSV rows are reshaped when the sizes match).\n\n" +
    'SPEC: mlp:H1,H2,…  |  cnn:TOKENS joined by "-": <F>c<K>[s<S>][bn] conv, p<K> max-pool, gap global ' +
    'average pool, fc<N>[bn] dense  |  a JSON file {"layers":[{"type":"conv","filters":8,"kernel":3},…]}. ' +
    'The class layer is added from the teacher\'s output width.',
  flags: {
    teacher: { type: 'string', description: 'teacher model (.onnx) whose first output is class scores [N, C]', placeholder: 'T.onnx' },
    data: { type: 'string', description: 'transfer set: CSV(.gz) or safetensors', placeholder: 'FILE' },
    student: { type: 'string', description: 'student architecture SPEC or JSON file', placeholder: 'SPEC' },
    output: { type: 'string', short: 'o', description: 'where to write the student ONNX', placeholder: 'S.onnx' },
    labels: { type: 'boolean', description: 'the data has labels (CSV: last column; safetensors: "labels")' },
    'test-data': { type: 'string', description: 'a separate test set for the report (default: half of the held-out split)', placeholder: 'FILE' },
    epochs: { type: 'number', description: 'maximum epochs', default: 30 },
    temperature: { type: 'number', description: 'softmax temperature T for the soft targets', default: 4 },
    alpha: { type: 'number', description: 'weight of the distillation term (1 − alpha on label cross-entropy)', default: 0.7 },
    'val-split': { type: 'number', description: 'fraction held out for validation and test', default: 0.2 },
    seed: { type: 'number', description: 'seed for initialisation, splits and batch order (runs are reproducible)', default: 1 },
    'batch-size': { type: 'number', description: 'mini-batch size', default: 64 },
    lr: { type: 'number', description: 'Adam learning rate', default: 0.002 },
    patience: { type: 'number', description: 'stop after this many epochs without better validation agreement', default: 8 },
    report: { type: 'string', description: 'also write the report as JSON here', placeholder: 'FILE.json' },
  },
  examples: [
    'modelcdn distill --teacher teacher.onnx --data digits.csv.gz --labels --student mlp:32 -o student.onnx',
    'modelcdn distill --teacher cls.onnx --data lines.safetensors --student cnn:8c3s2bn-16c3s2bn-32c3s2bn-gap -o small.onnx --report r.json',
  ],
  json: true,
  async run(ctx) {
    const need = (name: string): string => {
      const v = flagString(ctx.flags, name);
      if (!v) throw inputError('MISSING_FLAG', `--${name} is required`, {}, 'see modelcdn distill --help');
      return v;
    };
    const { distill } = await import('../../distill/index.ts');
    const opt = (name: string) => flagNumber(ctx.flags, name);
    const report = await distill({
      teacher: need('teacher'),
      data: need('data'),
      student: need('student'),
      output: need('output'),
      labels: flagBool(ctx.flags, 'labels'),
      ...(flagString(ctx.flags, 'test-data') ? { testData: flagString(ctx.flags, 'test-data')! } : {}),
      ...(opt('epochs') !== undefined ? { epochs: opt('epochs')! } : {}),
      ...(opt('temperature') !== undefined ? { temperature: opt('temperature')! } : {}),
      ...(opt('alpha') !== undefined ? { alpha: opt('alpha')! } : {}),
      ...(opt('val-split') !== undefined ? { valSplit: opt('val-split')! } : {}),
      ...(opt('seed') !== undefined ? { seed: opt('seed')! } : {}),
      ...(opt('batch-size') !== undefined ? { batchSize: opt('batch-size')! } : {}),
      ...(opt('lr') !== undefined ? { learningRate: opt('lr')! } : {}),
      ...(opt('patience') !== undefined ? { patience: opt('patience')! } : {}),
      ...(flagString(ctx.flags, 'report') ? { report: flagString(ctx.flags, 'report')! } : {}),
      signal: ctx.signal,
      progress: (label, total) => ctx.out.progress(label, total, 'items'),
    });
    const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(2)} %`);
    ctx.out.result(report, (r) => [
      table(
        ['model', 'params', 'file', 'accuracy', 'agreement'],
        [
          ['teacher', r.teacher.params, formatBytes(r.teacher.fileSize), pct(r.teacher.accuracy), '-'],
          [`student ${r.student.spec}`, r.student.params, formatBytes(r.student.fileSize), pct(r.student.accuracy), pct(r.student.agreement)],
        ],
      ),
      `${r.compression.toFixed(1)}x fewer parameters` +
        (r.retainedAccuracy !== undefined ? `, keeps ${pct(r.retainedAccuracy)} of the teacher's accuracy` : '') +
        ` (test: ${r.data.test} samples, ${r.data.testSource}); ${r.training.epochs} epochs (best ${r.training.bestEpoch}), ${r.training.seconds.toFixed(1)} s`,
      `wrote ${r.student.path}`,
    ]);
  },
});
