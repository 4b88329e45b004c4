/** Where the shared real fixtures live (never copied into the repo), and a skip helper for tests. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = process.env['MODELCDN_FIXTURES'] ?? resolve(REPO_ROOT, '../shared/fixtures');

export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export const ONNX_FIXTURES = [
  'silero_vad_v4legacy.onnx',
  'silero_vad_v5.onnx',
  'ppocr_v4_det.onnx',
  'ppocr_v4_rec.onnx',
  'ppocr_mobile_v2_cls.onnx',
].map((f) => fixture('models', 'onnx', f));

export const TFJS_FIXTURE_DIRS = [
  'movenet-lightning-v3',
  'movenet-lightning-v4',
  'facemesh-fp32',
  'facemesh-fp16',
  'ssd-mobilenetv1-u8',
  'ssd-mobilenetv1-u8-sharded',
].map((d) => fixture('models', 'tfjs', d));

export function haveFixtures(): boolean {
  return existsSync(fixture('models', 'onnx', 'ppocr_v4_rec.onnx'));
}
