/**
 * Recipe: real evaluation images for the PaddleOCR recognizer and direction classifier. Text lines
 * (Latin words, numbers, dates, prices, codes, and Chinese phrases whose characters are all in
 * ppocr_keys_v1.txt) are rendered by ImageMagick with real fonts (DejaVu Sans/Serif/Mono, WenQuanYi
 * Micro Hei), then preprocessed exactly as PaddleOCR does: keep aspect, height 48, width
 * min(W, ceil(48·w/h)) (wider lines are squeezed), BGR, (x/255 − 0.5)/0.5, zero-padded on the right.
 *   ocr-rec.safetensors  x F32[N,3,48,320]   metadata: texts (JSON array)
 *   ocr-cls.safetensors  x F32[2N,3,48,192]  each line upright and rotated 180°; metadata: labels (JSON, "0"/"180")
 *   ocr-calib-{rec,cls}.safetensors: 32 other lines (another seed) for `quantize --calibrate`
 * Deterministic: seeded text generation, fixed fonts and sizes.
 * Run: node --import tsx scripts/inputs/ocr.ts [OUT_DIR] [LINES]
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSafetensors } from '../../src/formats/safetensors.ts';
import { fixture } from '../../test/fixtures.ts';
import { INPUTS_DIR, bytesOf, pick, prng, run } from './tools.ts';

export const REC_SHAPE = [3, 48, 320] as const;
export const CLS_SHAPE = [3, 48, 192] as const;
export const KEYS_PATH = fixture('models', 'onnx', 'ppocr_keys_v1.txt');

const LATIN_FONTS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc',
];
const CJK_FONT = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';

const WORDS = [
  'Invoice', 'Total', 'Amount', 'Date', 'Receipt', 'Order', 'Customer', 'Address', 'Phone', 'Street', 'Station',
  'Coffee', 'Milk', 'Bread', 'Apple', 'Ticket', 'Gate', 'Platform', 'Exit', 'Open', 'Closed', 'Monday', 'Friday',
  'Hotel', 'Room', 'Parking', 'Welcome', 'Quality', 'Service', 'Model', 'Serial', 'Battery', 'Warning', 'Speed',
];
const CN_PHRASES = [
  '中华人民共和国', '北京市朝阳区', '上海火车站', '欢迎光临', '营业时间', '禁止吸烟', '出口', '入口', '停车场',
  '人民币', '合计金额', '发票号码', '联系电话', '有限公司', '生产日期', '保质期', '请勿触摸', '安全出口', '地铁站',
  '中国银行', '医院', '学校', '图书馆', '超市', '餐厅', '早上好', '谢谢', '今天天气很好', '数学', '语文', '大学',
  '深圳市南山区', '广州', '成都', '杭州西湖', '电话号码', '身份证', '文化', '经济', '科学技术', '新年快乐',
];
const BG = ['white', '#f4f1e8', '#e8eef4', '#fffbe6', '#eeeeee'];
const FG = ['black', '#202020', '#1a237e', '#3e2723', '#b71c1c'];

function latinLine(r: () => number): string {
  const kind = Math.floor(r() * 6);
  const n = (d: number) => String(Math.floor(r() * 10 ** d)).padStart(d, '0');
  switch (kind) {
    case 0: return `${pick(r, WORDS)} ${pick(r, WORDS).toLowerCase()} ${n(3)}`;
    case 1: return `${pick(r, WORDS)}: $${Math.floor(r() * 900) + 1}.${n(2)}`;
    case 2: return `20${n(2)}-${String(1 + Math.floor(r() * 12)).padStart(2, '0')}-${String(1 + Math.floor(r() * 28)).padStart(2, '0')}`;
    case 3: return `No. ${String.fromCharCode(65 + Math.floor(r() * 26))}${n(5)}`;
    case 4: return `${pick(r, WORDS)} ${pick(r, WORDS)}`;
    default: return `Tel ${n(3)}-${n(4)}-${n(4)}`;
  }
}

function cjkLine(r: () => number): string {
  const kind = Math.floor(r() * 4);
  switch (kind) {
    case 0: return pick(r, CN_PHRASES);
    case 1: return `${pick(r, CN_PHRASES)}${pick(r, CN_PHRASES)}`;
    case 2: return `${pick(r, CN_PHRASES)} ${Math.floor(r() * 9000) + 100}元`;
    default: return `${pick(r, CN_PHRASES)}：${latinLine(r)}`;
  }
}

/** The deterministic list of text lines (every character is in the dictionary or a space). */
export function makeLines(count: number, dict: Set<string>, seed = 7): { text: string; font: string; cjk: boolean }[] {
  const r = prng(seed);
  const lines: { text: string; font: string; cjk: boolean }[] = [];
  while (lines.length < count) {
    const cjk = r() < 0.45;
    const text = cjk ? cjkLine(r) : latinLine(r);
    const bad = [...text].filter((c) => c !== ' ' && !dict.has(c));
    if (bad.length) throw new Error(`recipe bug: characters not in the dictionary: ${bad.join('')}`);
    lines.push({ text, font: cjk ? CJK_FONT : pick(r, LATIN_FONTS), cjk });
  }
  return lines;
}

function parsePpm(buf: Buffer): { w: number; h: number; rgb: Uint8Array } {
  // P6\n<w> <h>\n<max>\n<data> (ImageMagick writes no comments)
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(buf.subarray(0, 64).toString('latin1'));
  if (!m || m[3] !== '255') throw new Error('unexpected PPM from convert');
  const w = Number(m[1]);
  const h = Number(m[2]);
  return { w, h, rgb: new Uint8Array(buf.buffer, buf.byteOffset + m[0].length, w * h * 3) };
}

const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/%/g, '%%');

/** Render one line at its natural size (PPM bytes, 8-bit). */
async function render(text: string, font: string, r: () => number): Promise<Buffer> {
  const size = 28 + Math.floor(r() * 20);
  return run('convert', [
    '-background', pick(r, BG), '-fill', pick(r, FG), '-font', font, '-pointsize', String(size),
    `label:${escapeLabel(text)}`,
    '-bordercolor', pick(r, BG), '-border', `${4 + Math.floor(r() * 10)}x${3 + Math.floor(r() * 6)}`,
    '-depth', '8', 'ppm:-',
  ]);
}

/**
 * PaddleOCR's resize_norm_img: height H, width min(W, ceil(H·w/h)) by ImageMagick, then BGR,
 * (x/255 − 0.5)/0.5 into the left part of a zero [3,H,W] tensor at `out[offset…]`.
 */
async function resizeNorm(ppm: Buffer, H: number, W: number, rotate: boolean, out: Float32Array, offset: number): Promise<void> {
  const { w, h } = parsePpm(ppm);
  const rw = Math.min(W, Math.ceil((H * w) / h));
  const args = ['ppm:-', ...(rotate ? ['-rotate', '180'] : []), '-resize', `${rw}x${H}!`, '-depth', '8', 'rgb:-'];
  const rgb = await run('convert', args, ppm);
  if (rgb.length !== rw * H * 3) throw new Error(`convert returned ${rgb.length} bytes, expected ${rw * H * 3}`);
  const plane = H * W;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < rw; x++) {
      const s = (y * rw + x) * 3;
      const d = offset + y * W + x;
      out[d] = (rgb[s + 2]! / 255 - 0.5) / 0.5; // B
      out[d + plane] = (rgb[s + 1]! / 255 - 0.5) / 0.5; // G
      out[d + 2 * plane] = (rgb[s]! / 255 - 0.5) / 0.5; // R
    }
  }
}

export async function loadDictionary(path = KEYS_PATH): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').map((l) => l.replace(/\r$/, '')).filter((l, i, a) => l.length > 0 || i < a.length - 1);
}

export interface OcrInputsResult {
  rec: { path: string; lines: number };
  cls: { path: string; images: number };
}

export async function buildOcrInputs(outDir = INPUTS_DIR, count = 128, seed = 7, prefix = 'ocr'): Promise<OcrInputsResult> {
  await mkdir(outDir, { recursive: true });
  const dict = new Set(await loadDictionary());
  const lines = makeLines(count, dict, seed);
  const r = prng(seed + 1);
  const [, rh, rw] = REC_SHAPE;
  const [, ch, cw] = CLS_SHAPE;
  const rec = new Float32Array(count * 3 * rh * rw);
  const cls = new Float32Array(2 * count * 3 * ch * cw);
  const labels: string[] = [];
  for (let i = 0; i < count; i++) {
    const ppm = await render(lines[i]!.text, lines[i]!.font, r);
    await resizeNorm(ppm, rh, rw, false, rec, i * 3 * rh * rw);
    await resizeNorm(ppm, ch, cw, false, cls, 2 * i * 3 * ch * cw);
    await resizeNorm(ppm, ch, cw, true, cls, (2 * i + 1) * 3 * ch * cw);
    labels.push('0', '180');
  }
  const meta = { recipe: 'scripts/inputs/ocr.ts', seed: String(seed), layout: 'NCHW, BGR, (x/255-0.5)/0.5, right zero-padded' };
  const recPath = join(outDir, `${prefix}-rec.safetensors`);
  const clsPath = join(outDir, `${prefix}-cls.safetensors`);
  await writeSafetensors(recPath, [{ name: 'x', dtype: 'F32', shape: [count, ...REC_SHAPE], data: bytesOf(rec) }], {
    ...meta,
    texts: JSON.stringify(lines.map((l) => l.text)),
    fonts: JSON.stringify(lines.map((l) => l.font.replace(/^.*\//, ''))),
  });
  await writeSafetensors(clsPath, [{ name: 'x', dtype: 'F32', shape: [2 * count, ...CLS_SHAPE], data: bytesOf(cls) }], {
    ...meta,
    labels: JSON.stringify(labels),
  });
  return { rec: { path: recPath, lines: count }, cls: { path: clsPath, images: 2 * count } };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const [count, seed, prefix] of [[Number(process.argv[3] ?? 128), 7, 'ocr'], [32, 1001, 'ocr-calib']] as const) {
    const res = await buildOcrInputs(process.argv[2] ?? INPUTS_DIR, count, seed, prefix);
    console.log(`${res.rec.path}: ${res.rec.lines} text lines, ${REC_SHAPE.join('x')}`);
    console.log(`${res.cls.path}: ${res.cls.images} images (upright + 180°), ${CLS_SHAPE.join('x')}`);
  }
}
