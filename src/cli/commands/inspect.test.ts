import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../main.ts';
import { fixture } from '../../../test/fixtures.ts';
import { serializeGguf, GgufType } from '../../formats/gguf.ts';
import { serializeSafetensors } from '../../formats/safetensors.ts';

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function run(...argv: string[]) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(['inspect', ...argv], { stdout, stderr });
  return { code, out: stdout.text, err: stderr.text };
}

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-inspect-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('inspect: ONNX fixture, human and --json', async () => {
  const f = fixture('models', 'onnx', 'ppocr_v4_rec.onnx');
  const h = await run(f);
  assert.equal(h.code, 0, h.err);
  assert.match(h.out, /format\s+onnx/);
  assert.match(h.out, /opset\s+9/);
  assert.match(h.out, /largest 10 tensors/);
  const j = await run(f, '--json');
  const v = JSON.parse(j.out);
  assert.equal(v.format, 'onnx');
  assert.equal(v.tensorCount, 325);
  assert.equal(v.meta.opset, 9);
  assert.equal(v.largest.length, 10);
  assert.ok(v.dtypes.F32.bytes > 10_000_000);
});

test('inspect: tfjs directory (graph model), safetensors and GGUF metadata', async () => {
  const t = JSON.parse((await run(fixture('models', 'tfjs', 'movenet-lightning-v4'), '--json')).out);
  assert.equal(t.format, 'tfjs');
  assert.equal(t.meta.modelType, 'graph');
  assert.ok(t.dtypes.F16);
  const st = join(dir, 'm.safetensors');
  await writeFile(st, serializeSafetensors([{ name: 'w', dtype: 'BF16', shape: [2, 3], data: new Uint8Array(12) }], { format: 'pt' }));
  const s = await run(st);
  assert.equal(s.code, 0);
  assert.match(s.out, /format = pt/);
  const gg = join(dir, 'm.gguf');
  await writeFile(gg, serializeGguf({ metadata: [{ key: 'general.architecture', type: GgufType.STRING, value: 'llama' }], tensors: [{ name: 'q', dtype: 'Q8_0', shape: [2, 32], data: new Uint8Array(68) }] }));
  const g = JSON.parse((await run(gg, '--json', '--top', '1')).out);
  assert.equal(g.meta.architecture, 'llama');
  assert.equal(g.parameterCount, 64);
  assert.equal(g.largest.length, 1);
});

test('inspect: truncated, corrupt, unknown or missing files print one error line and exit non-zero', async () => {
  const good = await readFile(fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx'));
  const cut = join(dir, 'truncated.onnx');
  await writeFile(cut, good.subarray(0, 12345));
  for (const p of [cut, fixture('models', 'onnx', 'ppocr_keys_v1.txt'), join(dir, 'missing.onnx')]) {
    const r = await run(p);
    assert.notEqual(r.code, 0, p);
    assert.equal(r.out, '');
    assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
    assert.match(r.err, /^error: /);
    assert.ok(r.err.includes(p));
  }
  const bad = join(dir, 'bad.safetensors');
  await writeFile(bad, new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
  const r = await run(bad);
  assert.equal(r.code, 2);
  assert.match(r.err, /header claims 200 bytes/);
});
