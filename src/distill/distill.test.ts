/**
 * End to end through the CLI: a tiny teacher trained on the real digits data, distilled into a
 * smaller student (CSV and safetensors transfer sets), determinism under --seed, and the bad-input
 * errors (one line naming expected vs found, exit code 2, no output file left behind).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as ort from 'onnxruntime-node';
import { main } from '../cli/main.ts';
import { encodeOnnxModel, serializeSafetensors } from '../formats/index.ts';
import { fixture } from '../../test/fixtures.ts';
import { loadDataset } from './data.ts';
import { studentOnnxModel } from './export.ts';
import { splitIndices } from './rng.ts';
import { parseStudentSpec } from './spec.ts';
import { createClassifier, exportClassifier, fit } from './supervised.ts';

const DIGITS = fixture('data', 'digits.csv.gz');
let dir = '';
let teacher = '';

function capture() {
  let text = '';
  const s = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { s, get text() { return text; } };
}

async function cli(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await main(['distill', ...args], { stdout: out.s, stderr: err.s });
  return { code, stdout: out.text, stderr: err.text };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcdn-distill-'));
  // a small real teacher: mlp:48 trained briefly on the digits
  const d = await loadDataset(DIGITS, { labels: true });
  const { train, held } = splitIndices(d.n, 0.2, 3);
  const c = await createClassifier(parseStudentSpec('mlp:48'), [64], 10, { x: d.x, rows: train }, 3);
  await fit(c, d, { trainIdx: train, valIdx: held, epochs: 6, batchSize: 64, learningRate: 3e-3, seed: 3, patience: 6 });
  teacher = join(dir, 'teacher.onnx');
  writeFileSync(teacher, exportClassifier(c, 'test teacher').onnx);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('distill digits: CLI writes a working student, a report, and is deterministic under --seed', async () => {
  const out = join(dir, 'student.onnx');
  const rep = join(dir, 'report.json');
  const args = ['--teacher', teacher, '--data', DIGITS, '--labels', '--student', 'mlp:16', '-o', out, '--epochs', '4', '--seed', '5', '--report', rep, '--json'];
  const r = await cli(args);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(JSON.parse(readFileSync(rep, 'utf8')), report);
  assert.equal(report.teacher.params, 64 * 48 + 48 + 48 * 10 + 10);
  assert.equal(report.student.params, 64 * 16 + 16 + 16 * 10 + 10);
  assert.ok(report.compression > 2.9);
  assert.equal(report.student.fileSize, readFileSync(out).length);
  assert.ok(report.teacher.accuracy > 0.85, `teacher accuracy ${report.teacher.accuracy}`);
  assert.ok(report.student.agreement > 0.7, `agreement ${report.student.agreement}`);
  assert.ok(report.student.accuracy > 0.7);
  assert.ok(report.exportMaxAbsDiff <= 1e-4);
  assert.equal(report.data.samples, 1797);
  assert.ok(report.training.epochs >= 1 && report.training.epochs <= 4);
  // the student runs in onnxruntime on the teacher's input shape
  const s = await ort.InferenceSession.create(out);
  const y = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(2 * 64).fill(3), [2, 64]) });
  assert.deepEqual(y[s.outputNames[0]!]!.dims, [2, 10]);
  await s.release();
  // same seed → byte-identical student
  const out2 = join(dir, 'student2.onnx');
  const r2 = await cli(['--teacher', teacher, '--data', DIGITS, '--labels', '--student', 'mlp:16', '-o', out2, '--epochs', '4', '--seed', '5']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(Buffer.compare(readFileSync(out), readFileSync(out2)) === 0, 'same --seed must give the same student');
  assert.match(r2.stdout, /fewer parameters/);
});

test('distill from a safetensors transfer set without labels, student spec from a JSON file', async () => {
  const d = await loadDataset(DIGITS, { labels: true });
  const n = 400;
  const st = join(dir, 'inputs.safetensors');
  writeFileSync(st, serializeSafetensors([{ name: 'inputs', dtype: 'F32', shape: [n, 64], data: new Uint8Array(d.x.buffer, 0, n * 64 * 4) }]));
  const out = join(dir, 'student-st.onnx');
  const specFile = join(dir, 'student.json');
  writeFileSync(specFile, JSON.stringify({ layers: [{ type: 'dense', units: 16 }] }));
  const r = await cli(['--teacher', teacher, '--data', st, '--student', specFile, '-o', out, '--epochs', '8', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.data.samples, n);
  assert.equal(report.student.spec, 'mlp:16');
  assert.equal(report.student.accuracy, undefined); // no labels: agreement only
  assert.ok(report.student.agreement > 0.5, `agreement ${report.student.agreement}`);
  assert.ok(existsSync(out));
});

function rank4Model(): Uint8Array {
  // a "teacher" whose output is an image [N,1,8,8], not class scores
  const m = studentOnnxModel([{ op: 'relu' }], { inputShape: [1, 8, 8], norm: { mean: 0, scale: 1 } });
  m.graph!.output[0]!.type = { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 1 }, { dim_value: 8 }, { dim_value: 8 }] } } };
  return encodeOnnxModel(m);
}

test('bad input: one clear error, exit 2, no output file', async () => {
  const badTeacher = join(dir, 'not-a-classifier.onnx');
  writeFileSync(badTeacher, rank4Model());
  const narrow = join(dir, 'narrow.csv');
  writeFileSync(narrow, 'a,b,c\n1,2,3\n4,5,6\n');
  const badLabels = join(dir, 'labels.csv');
  writeFileSync(badLabels, Array.from({ length: 20 }, (_, i) => [...new Array(64).fill(i % 17), i === 13 ? 12 : i % 10].join(',')).join('\n'));
  const tiny = join(dir, 'tiny.csv');
  writeFileSync(tiny, [new Array(64).fill(1).join(','), new Array(64).fill(2).join(',')].join('\n'));
  const cases: { args: string[]; re: RegExp }[] = [
    { args: ['--teacher', teacher, '--data', tiny, '--student', 'mlp:8'], re: /2 samples, expected at least 4/ },
    { args: ['--teacher', badTeacher, '--data', DIGITS, '--student', 'mlp:8'], re: /output "output" has shape \[N,1,8,8\], expected class scores \[N, C\]/ },
    { args: ['--teacher', teacher, '--data', narrow, '--student', 'mlp:8'], re: /samples have shape \[3\].*expects input \[64\]/ },
    { args: ['--teacher', teacher, '--data', DIGITS, '--labels', '--student', 'rnn:8'], re: /student spec "rnn:8": unknown kind.*expected e\.g\. mlp:64,32/ },
    { args: ['--teacher', teacher, '--data', badLabels, '--labels', '--student', 'mlp:8'], re: /row 14 has label 12, expected 0\.\.9/ },
    { args: ['--teacher', teacher, '--data', DIGITS, '--labels', '--student', 'cnn:8c3-gap'], re: /need image input \[C,H,W\]; the teacher input is \[64\]/ },
    { args: ['--teacher', teacher, '--data', DIGITS, '--labels', '--student', 'mlp:8', '--alpha', '1.5'], re: /--alpha 1.5: expected a number in 0\.\.1/ },
    { args: ['--teacher', join(dir, 'missing.onnx'), '--data', DIGITS, '--student', 'mlp:8'], re: /missing\.onnx: no such file/ },
  ];
  for (const c of cases) {
    const outDir = mkdtempSync(join(dir, 'bad-'));
    const out = join(outDir, 'student.onnx');
    const r = await cli([...c.args, '-o', out]);
    assert.notEqual(r.code, 0, c.args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^error: /);
    assert.match(lines[0]!, c.re);
    assert.deepEqual(readdirSync(outDir), [], 'no output or temp file may be left behind');
  }
});
