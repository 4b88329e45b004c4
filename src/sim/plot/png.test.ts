import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { crc32, encodePng, Raster } from './png.ts';
import { lineChart, PALETTE } from './chart.ts';

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('encodePng: valid signature, chunk CRCs, and pixels that inflate back', () => {
  const r = new Raster(3, 2, [10, 20, 30]);
  r.set(1, 1, [255, 0, 0]);
  const png = encodePng(r);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const dv = new DataView(png.buffer, png.byteOffset);
  let o = 8;
  const chunks: { type: string; data: Uint8Array }[] = [];
  while (o < png.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    assert.equal(dv.getUint32(o + 8 + len), crc32(png.subarray(o + 4, o + 8 + len)), `${type} crc`);
    chunks.push({ type, data });
    o += 12 + len;
  }
  assert.deepEqual(chunks.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(chunks[1]!.data);
  assert.equal(raw.length, 2 * (1 + 9));
  assert.deepEqual([...raw.subarray(10 + 1 + 3, 10 + 1 + 6)], [255, 0, 0]);
  assert.deepEqual([...raw.subarray(1, 4)], [10, 20, 30]);
});

test('lineChart: draws series pixels in the series colour', () => {
  const png = lineChart({ title: 't', xLabel: 'h', panels: [{ title: 'p', yLabel: 'y', series: [{ label: 'a', values: [0, 1, 2, 3], color: PALETTE[1]! }] }] });
  assert.ok(png.length > 500);
});
