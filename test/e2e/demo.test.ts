/** `npm start` runs `modelcdn demo`: the whole main job, end to end, in a separate process. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../support/procs.ts';
import { fixture } from '../fixtures.ts';

describe('modelcdn demo (npm start)', () => {
  it('publishes two versions, pulls the first packed and the second as a patch, and exits with --exit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcdn-demo-'));
    try {
      const r = await runCli(['demo', '--data', join(dir, 'demo'), '--port', '0', '--exit', '--json', '--model', fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx')]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { steps: { version: string; route: string; size: number; fetched: number }[]; urls: Record<string, string> };
      assert.deepEqual(out.steps.map((s) => [s.version, s.route]), [['1.0.0', 'packed'], ['1.1.0', 'patch']]);
      assert.ok(out.steps[1]!.fetched < out.steps[1]!.size * 0.5, `patch fetched ${out.steps[1]!.fetched} of ${out.steps[1]!.size}`);
      assert.match(out.urls['edge']!, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a missing model is one clear error', async () => {
    const r = await runCli(['demo', '--model', '/nonexistent/model.onnx', '--exit', '--port', '0', '--data', join(tmpdir(), 'mcdn-demo-missing')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /not found/);
  });
});
