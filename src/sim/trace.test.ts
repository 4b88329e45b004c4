import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { McdnError } from '../errors.ts';
import { fixture } from '../../test/fixtures.ts';
import {
  detectFormat,
  encodeOracleGeneral,
  nextUseIndex,
  parseAdaptSize,
  parseCsvTrace,
  parseOracleGeneral,
  parseTrace,
  uniqueBytes,
  TRACE_FORMATS,
} from './trace.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const codeAndLine = (code: string, line?: number) => (e: unknown) => {
  assert.ok(e instanceof McdnError, String(e));
  assert.equal(e.code, code);
  if (line !== undefined) {
    assert.equal(e.details['line'], line);
    assert.match(e.message, new RegExp(`:${line}: `));
  }
  return true;
};

test('adaptsize: the real fixture parses to its documented shape', () => {
  const t = parseAdaptSize(readFileSync(fixture('traces', 'adaptsize_request.trace')), 'adaptsize_request.trace');
  assert.equal(t.length, 66_987);
  assert.equal(t.keys.length, 36_815);
  assert.equal(t.keys[t.obj[1]!], '1');
  assert.equal(t.size[1], 7454);
  const u = uniqueBytes(t);
  assert.ok(u > 270e6 && u < 290e6, String(u)); // "280 MB of unique bytes"
});

test('adaptsize: malformed lines name the line number', () => {
  assert.throws(() => parseAdaptSize(enc('1 a 10\n2 b 20\n3 c\n'), 't'), codeAndLine('TRACE_BAD_LINE', 3));
  assert.throws(() => parseAdaptSize(enc('1 a 10\n\n2 b -5\n'), 't'), codeAndLine('TRACE_BAD_SIZE', 3));
  assert.throws(() => parseAdaptSize(enc('1 a 10\nx b 5\n'), 't'), codeAndLine('TRACE_BAD_LINE', 2));
  assert.throws(() => parseAdaptSize(enc('1 a 1e99\n'), 't'), codeAndLine('TRACE_BAD_SIZE', 1));
  assert.throws(() => parseAdaptSize(enc('\n\n'), 't'), codeAndLine('TRACE_EMPTY'));
  assert.throws(() => parseAdaptSize(new Uint8Array(0), 't'), codeAndLine('TRACE_EMPTY'));
});

test('csv: header columns in any order, optional region, errors with line numbers', () => {
  const t = parseCsvTrace(enc('size,timestamp,object,region\n10,1,a,eu\n20,2,b,us\r\n10,3,a,us\n'), 't');
  assert.equal(t.length, 3);
  assert.deepEqual([...t.size], [10, 20, 10]);
  assert.deepEqual(t.regionNames, ['eu', 'us']);
  assert.deepEqual([...t.region!], [0, 1, 1]);
  assert.equal(t.obj[0], t.obj[2]);
  assert.throws(() => parseCsvTrace(enc('timestamp,size\n1,10\n'), 't'), codeAndLine('CSV_MISSING_COLUMN', 1));
  assert.throws(() => parseCsvTrace(enc('timestamp,object,size\n1,a,10\n2,b\n'), 't'), codeAndLine('TRACE_BAD_LINE', 3));
  assert.throws(() => parseCsvTrace(enc('timestamp,object,size\n1,a,10\nnow,b,3\n'), 't'), codeAndLine('TRACE_BAD_LINE', 3));
  assert.throws(() => parseCsvTrace(enc('timestamp,object,size\n1,a,ten\n'), 't'), codeAndLine('TRACE_BAD_SIZE', 2));
  assert.throws(() => parseCsvTrace(enc('timestamp,object,size\n1,,10\n'), 't'), codeAndLine('TRACE_BAD_LINE', 2));
  assert.throws(() => parseCsvTrace(enc('timestamp,object,size\n'), 't'), codeAndLine('TRACE_EMPTY'));
});

test('oracle-general: round trip and truncation error with the record number', () => {
  const t = parseAdaptSize(enc('1 5 100\n2 7 200\n3 5 100\n4 9007199254740991 1\n'));
  const bytes = encodeOracleGeneral(t, nextUseIndex(t));
  assert.equal(bytes.length, 4 * 24);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getBigInt64(16, true), 2n); // request 0's next access is request 2
  assert.equal(dv.getBigInt64(24 + 16, true), -1n);
  const back = parseOracleGeneral(bytes);
  assert.deepEqual(back.keys, ['5', '7', '9007199254740991']);
  assert.deepEqual([...back.size], [100, 200, 100, 1]);
  assert.deepEqual([...back.time], [1, 2, 3, 4]);
  assert.throws(() => parseOracleGeneral(bytes.subarray(0, 50), 't'), (e: unknown) => e instanceof McdnError && e.code === 'TRACE_TRUNCATED' && e.details['record'] === 3);
});

test('detectFormat: by name, then by content', () => {
  assert.equal(detectFormat('x.csv', enc('a')), 'csv');
  assert.equal(detectFormat('x.oracleGeneral.bin', enc('a')), 'oracle-general');
  assert.equal(detectFormat('x.trace', new Uint8Array([1, 0, 0, 0, 5])), 'oracle-general');
  assert.equal(detectFormat('x.trace', enc('time,object,size\n')), 'csv');
  assert.equal(detectFormat('x.trace', enc('1 2 3\n')), 'adaptsize');
});

test('fuzz: truncated and corrupted traces parse or throw McdnError, never anything else', () => {
  const samples = {
    adaptsize: enc('1 a 10\n2 b 20\n3 a 10\n4 c 5\n'),
    csv: enc('timestamp,object,size,region\n1,a,10,eu\n2,b,20,us\n3,a,10,eu\n'),
    'oracle-general': encodeOracleGeneral(parseAdaptSize(enc('1 1 10\n2 2 20\n3 1 10\n'))),
  } as const;
  fc.assert(
    fc.property(
      fc.constantFrom(...TRACE_FORMATS),
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      (format, cut, flips) => {
        const src = samples[format];
        const b = src.slice(0, src.length === 0 ? 0 : cut % (src.length + 1));
        for (const [pos, val] of flips) if (b.length) b[pos % b.length] = val;
        try {
          const t = parseTrace(b, format, 'fuzz');
          assert.ok(t.length > 0);
          for (let i = 0; i < t.length; i++) assert.ok(t.size[i]! >= 0 && t.obj[i]! < t.keys.length);
        } catch (e) {
          if (!(e instanceof McdnError)) throw e;
        }
      },
    ),
    { numRuns: 500 },
  );
});
