import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import { unpackFile } from '../codec/index.ts';
import { evaluatePair } from './eval/index.ts';
import { fixture } from '../../test/fixtures.ts';

const CLS = fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx');

function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, get text() { return text; } };
}

test('optimize: prune + int8 + pack in one step; one summary line; the .mcz unpacks to a model that runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-opt-'));
  try {
    const out = join(dir, 'cls.mcz');
    const o = capture();
    const e = capture();
    const code = await main(['optimize', CLS, '-o', out, '--quantize', 'int8', '--prune', '0.3', '--model-out', join(dir, 'cls.opt.onnx')], { stdout: o.stream, stderr: e.stream });
    assert.equal(code, 0, e.text);
    assert.match(o.text.trim(), /^FP32 579 kB → pruned 30 % \+ INT8 \d+ kB → packed \d+ kB \(\d+\.\d+x smaller\)/);
    assert.equal(o.text.trim().split('\n').length, 1);
    const back = join(dir, 'back.onnx');
    await unpackFile(out, back);
    const ev = await evaluatePair(join(dir, 'cls.opt.onnx'), back, { randomBatch: 1, shapes: { x: [1, 3, 48, 192] } });
    assert.equal(ev.outputs[0]!.maxAbsError, 0, 'the packed model is the optimized model byte for byte');
    assert.deepEqual(readdirSync(dir).sort(), ['back.onnx', 'cls.mcz', 'cls.opt.onnx'], 'no temp files left');
    // JSON mode and bad input
    const j = capture();
    assert.equal(await main(['optimize', CLS, '-o', out, '--json'], { stdout: j.stream, stderr: capture().stream }), 0);
    const r = JSON.parse(j.text);
    assert.ok(r.sizePacked < r.sizeOptimized && r.sizeOptimized < r.sizeOriginal);
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'nope');
    const err = capture();
    assert.notEqual(await main(['optimize', junk, '-o', join(dir, 'x.mcz')], { stdout: capture().stream, stderr: err.stream }), 0);
    assert.equal(err.text.trim().split('\n').length, 1);
    assert.notEqual(await main(['optimize', CLS, '-o', join(dir, 'x.mcz'), '--prune', '2'], { stdout: capture().stream, stderr: capture().stream }), 0);
    assert.ok(!readdirSync(dir).includes('x.mcz'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
