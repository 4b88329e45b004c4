import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isMcdnError } from '../errors.ts';
import { formatStudentSpec, parseStudentSpec, parseStudentSpecJson, type LayerSpec, type StudentSpec } from './spec.ts';

test('mlp specs', () => {
  assert.deepEqual(parseStudentSpec('mlp:64,32'), {
    kind: 'mlp',
    layers: [
      { type: 'dense', units: 64, bn: false },
      { type: 'dense', units: 32, bn: false },
    ],
  });
  assert.deepEqual(parseStudentSpec('mlp:'), { kind: 'mlp', layers: [] });
  assert.deepEqual(parseStudentSpec(' MLP:16bn ').layers, [{ type: 'dense', units: 16, bn: true }]);
});

test('cnn specs with strides, batch norm, pooling and gap', () => {
  assert.deepEqual(parseStudentSpec('cnn:8c3-16c3s2bn-p2-gap-fc32').layers, [
    { type: 'conv', filters: 8, kernel: 3, stride: 1, bn: false },
    { type: 'conv', filters: 16, kernel: 3, stride: 2, bn: true },
    { type: 'pool', size: 2 },
    { type: 'gap' },
    { type: 'dense', units: 32, bn: false },
  ]);
});

test('JSON specs equal their compact form', () => {
  const j = parseStudentSpecJson('{"layers":[{"type":"conv","filters":8,"kernel":3},{"type":"pool","size":2},{"type":"dense","units":32}]}');
  assert.deepEqual(j, parseStudentSpec('cnn:8c3-p2-fc32'));
  assert.deepEqual(parseStudentSpec('{"layers":[{"type":"dense","units":5}]}'), parseStudentSpec('mlp:5'));
});

test('bad specs: one DISTILL_BAD_SPEC error naming what was expected and found', () => {
  const cases: [string, RegExp][] = [
    ['foo:1', /unknown kind/],
    ['cnn:8x3', /unknown layer token "8x3"/],
    ['cnn:', /no layers/],
    ['mlp:64,abc', /hidden width "abc" is not a whole number/],
    ['mlp:0', /out of range/],
    ['cnn:8c99', /kernel 99 out of range/],
    ['cnn:fc8-8c3', /conv layer after the features were flattened/],
    ['cnn:8c3-gap-gap', /"gap" after/],
    ['{"layers":[{"type":"lstm"}]}', /unknown layer type "lstm"/],
    ['{"layers":[{"type":"dense","units":1.5}]}', /must be an integer/],
    ['{"layers":', /invalid JSON/],
    ['{"nope":1}', /"layers" array/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(
      () => parseStudentSpec(spec),
      (e: unknown) => isMcdnError(e) && e.code === 'DISTILL_BAD_SPEC' && e.category === 'input' && re.test(e.message) && /expected/.test(e.remedy ?? ''),
      spec,
    );
  }
});

const layerArb: fc.Arbitrary<LayerSpec> = fc.oneof(
  fc.record({ type: fc.constant('conv' as const), filters: fc.integer({ min: 1, max: 64 }), kernel: fc.integer({ min: 1, max: 7 }), stride: fc.integer({ min: 1, max: 3 }), bn: fc.boolean() }),
  fc.record({ type: fc.constant('pool' as const), size: fc.integer({ min: 1, max: 4 }) }),
);
const denseArb = fc.record({ type: fc.constant('dense' as const), units: fc.integer({ min: 1, max: 512 }), bn: fc.boolean() });
const specArb: fc.Arbitrary<StudentSpec> = fc.oneof(
  fc.array(denseArb, { maxLength: 4 }).map((layers) => ({ kind: 'mlp' as const, layers })),
  fc
    .tuple(fc.array(layerArb, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.array(denseArb, { maxLength: 3 }))
    .map(([convs, gap, dense]) => ({ kind: 'cnn' as const, layers: [...convs, ...(gap ? [{ type: 'gap' as const }] : []), ...dense] })),
);

test('property: parse(format(spec)) == spec', () => {
  fc.assert(
    fc.property(specArb, (s) => {
      const plain = JSON.parse(JSON.stringify(s)) as StudentSpec; // fast-check records have a null prototype
    assert.deepEqual(parseStudentSpec(formatStudentSpec(s)), plain);
    }),
    { numRuns: 500 },
  );
});

test('fuzz: arbitrary text either parses or throws McdnError', () => {
  const alphabet = fc.constantFrom(...'mlpcn:,-0123456789sbgafp{}[]":x '.split(''));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 40 }).map((a) => a.join('')), fc.json()), (text) => {
      try {
        const s = parseStudentSpec(text);
        assert.ok(s.layers.length <= 64);
      } catch (e) {
        assert.ok(isMcdnError(e), `non-McdnError for ${JSON.stringify(text)}: ${String(e)}`);
      }
    }),
    { numRuns: 3000 },
  );
});
