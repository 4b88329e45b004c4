import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { McdnError } from '../errors.ts';
import { decodeText, encodeText, fromDoubles, joinText, splitText, toDoubles, MAX_TEXT_STREAMS, TEXT_ESC } from './text-streams.ts';
import { TFJS_FIXTURE_DIRS, haveFixtures } from '../../test/fixtures.ts';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants as Z } from 'node:zlib';

const enc = (s: string) => new TextEncoder().encode(s);
const roundTrip = (b: Uint8Array) => {
  const split = splitText(b);
  assert.deepEqual(joinText(split, b.byteLength), b);
  // fast-check runs many cases: brotli at quality 1 keeps them quick; the transform is the same
  const payload = encodeText(b, 1);
  assert.deepEqual(decodeText(payload, b.byteLength), b);
};

test('split/join and encode/decode round-trip arbitrary bytes (control bytes, escapes, unterminated strings)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (b) => roundTrip(b)), { numRuns: 300 });
  // bytes drawn from the characters the tokenizer cares about
  const alphabet = fc.constantFrom(...'"\\:{}[],-+.eE0123456789 \n\tab\x00\x01\x03\x1f\x7f'.split('').map((c) => c.charCodeAt(0)));
  fc.assert(fc.property(fc.array(alphabet, { maxLength: 400 }), (a) => roundTrip(Uint8Array.from(a))), { numRuns: 500 });
});

test('round-trips arbitrary strings and generated JSON, compact and pretty-printed', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => roundTrip(enc(s))), { numRuns: 200 });
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(undefined, 2, '\t'), (v, indent) => roundTrip(enc(JSON.stringify(v, null, indent) ?? 'null'))),
    { numRuns: 300 },
  );
});

test('long shortest-form numbers become double planes; any other number stream stays digits', () => {
  const enc1 = (vals: string[]) => enc(vals.map((v) => v + '\n').join(''));
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }), (xs) => {
      const data = enc1(xs.map(String));
      const d = toDoubles(data);
      if (d) assert.deepEqual(fromDoubles(d), data);
      // JSON arrays of doubles round-trip through the whole payload either way
      roundTrip(enc(JSON.stringify({ scale: xs, min: xs.map((x) => -x) })));
    }),
    { numRuns: 200 },
  );
  assert.ok(toDoubles(enc1(['0.0026856216729856004', '-0.34107395246917127'])));
  assert.equal(toDoubles(enc1(['0.0026856216729856004', '1.50000000000'])), undefined); // not the shortest form
  assert.equal(toDoubles(enc1(['-0', '0.0026856216729856004'])), undefined); // "-0" prints as "0"
  assert.equal(toDoubles(enc1(['1', '2', '3'])), undefined); // short: digits compress better
  assert.throws(() => fromDoubles(new Uint8Array(7)), McdnError);
});

test('values go to one stream per key; more keys than ids share the last stream', () => {
  const s = splitText(enc('{"a":"x","b":1,"a":"y","b":-2.5e3,"c":[1,2]}'));
  assert.deepEqual(
    s.streams.map((x) => new TextDecoder().decode(x.data)),
    ['x\ny\n', '1\n-2.5e3\n', '1\n2\n'],
  );
  assert.ok(!new TextDecoder('latin1').decode(s.skeleton).includes('x'));
  const many = enc(JSON.stringify(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, `v${i}`]))));
  const m = splitText(many);
  assert.equal(m.streams.length, MAX_TEXT_STREAMS);
  assert.deepEqual(joinText(m, many.byteLength), many);
  // a literal reserved byte in the skeleton is escaped
  const ctl = splitText(Uint8Array.of(0x41, 0x01, 0x42));
  assert.deepEqual(ctl.skeleton, Uint8Array.of(0x41, TEXT_ESC, 0x01, 0x42));
});

test('beats brotli-11 on the fixture JSON manifests and model.json files', { skip: !haveFixtures() }, () => {
  for (const d of TFJS_FIXTURE_DIRS) {
    for (const f of readdirSync(d).filter((x) => x.endsWith('.json'))) {
      const b = new Uint8Array(readFileSync(join(d, f)));
      const payload = encodeText(b);
      assert.deepEqual(decodeText(payload, b.byteLength), b);
      const br = brotliCompressSync(b, { params: { [Z.BROTLI_PARAM_QUALITY]: 11 } }).byteLength;
      assert.ok(payload.byteLength < br * 0.98, `${f}: ${payload.byteLength} vs brotli ${br}`);
    }
  }
});

test('fuzz: mutated or truncated payloads throw MCZ_CHUNK_CORRUPT or decode to the right length', () => {
  const text = enc(JSON.stringify({ weights: Array.from({ length: 60 }, (_, i) => ({ name: `layer_${i}/kernel`, shape: [3, 3, i, 8], dtype: 'float32', scale: i / 7 })) }));
  const payload = encodeText(text, 5);
  fc.assert(
    fc.property(fc.nat(payload.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(payload.length), (at, x, cut) => {
      const bad = payload.slice(0, Math.max(cut, at + 1));
      bad[at] ^= x;
      try {
        assert.equal(decodeText(bad, text.length).length, text.length);
      } catch (e) {
        assert.ok(e instanceof McdnError && e.code === 'MCZ_CHUNK_CORRUPT', String(e));
      }
    }),
    { numRuns: 400 },
  );
  // forged headers: too many streams, lengths beyond the limit, wrong raw length
  assert.throws(() => decodeText(Uint8Array.of(MAX_TEXT_STREAMS + 1, 0), 10), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_CHUNK_CORRUPT');
  assert.throws(() => decodeText(Uint8Array.of(0, 0xff, 0x7f), 10), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_CHUNK_CORRUPT');
  assert.throws(() => decodeText(payload, text.length - 1), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_CHUNK_CORRUPT');
  assert.throws(() => decodeText(payload, text.length + 1), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_CHUNK_CORRUPT');
  // a skeleton naming a stream that is not there, a value without its terminator, an unused value
  const bad = (skeleton: number[], streams: string[]) => () => joinText({ skeleton: Uint8Array.from(skeleton), streams: streams.map((s) => ({ kind: 0, data: enc(s) })) }, 1);
  assert.throws(bad([0x05], []), McdnError);
  assert.throws(bad([0x01], ['1']), McdnError);
  assert.throws(bad([0x41], ['1\n']), McdnError);
  assert.throws(bad([TEXT_ESC], []), McdnError);
});
