import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { McdnError } from '../../errors.ts';
import { contentRange, parseContentRange, parseRange, unsatisfiedRange } from './range.ts';
import { pumpToWriter, skipper } from './body.ts';
import { ifRangeHolds, noneMatchHits, ifMatchHolds, parseEtagList, planResponse, strongEtag } from './etag.ts';
import { negotiateEncoding, parseAcceptEncoding } from './encoding.ts';
import { splitUrlPath, validateChannel, validateFilePath, validateHash, validateModelName, validateVersion } from './validate.ts';
import { errorResponse } from './errors.ts';

test('parseRange: RFC 9110 forms', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', range: { start: 0, end: 10 } });
  assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', range: { start: 90, end: 100 } });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', range: { start: 90, end: 100 } });
  assert.deepEqual(parseRange('bytes=-1000', 100), { kind: 'partial', range: { start: 0, end: 100 } });
  assert.deepEqual(parseRange('bytes=50-1000', 100), { kind: 'partial', range: { start: 50, end: 100 } });
  assert.deepEqual(parseRange('Bytes = 1-1', 100), { kind: 'partial', range: { start: 1, end: 2 } });
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=5-1', 100), { kind: 'full' }); // invalid: ignored
  assert.deepEqual(parseRange('items=0-1', 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=abc', 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'full' }); // multi-range → whole
  assert.deepEqual(parseRange('bytes=0-1,200-300', 100), { kind: 'partial', range: { start: 0, end: 2 } });
  assert.deepEqual(parseRange('bytes=99999999999999999999-', 100), { kind: 'full' });
  assert.equal(contentRange({ start: 0, end: 10 }, 100), 'bytes 0-9/100');
  assert.equal(unsatisfiedRange(100), 'bytes */100');
  assert.deepEqual(parseContentRange('bytes 0-9/100'), { start: 0, end: 10, size: 100 });
  assert.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 10, size: undefined });
  assert.equal(parseContentRange('bytes 9-0/100'), undefined);
  assert.equal(parseContentRange('bytes 0-100/100'), undefined);
});

test('parseRange: property — partial ranges lie inside the representation and round-trip through Content-Range', () => {
  fc.assert(
    fc.property(fc.nat(1e9), fc.nat(2e9), fc.option(fc.nat(2e9)), (size, a, b) => {
      const header = b === null ? `bytes=${a}-` : `bytes=${a}-${b}`;
      const d = parseRange(header, size);
      if (d.kind === 'partial') {
        assert.ok(d.range.start >= 0 && d.range.start < d.range.end && d.range.end <= size);
        assert.equal(d.range.start, a);
        const back = parseContentRange(contentRange(d.range, size));
        assert.deepEqual(back, { ...d.range, size });
      } else if (d.kind === 'unsatisfiable') {
        assert.ok(a >= size);
      } else {
        assert.ok(b !== null && b < a);
      }
    }),
  );
});

test('parseRange: fuzz — arbitrary headers never throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 64 }), fc.nat(1e6), (s, size) => {
      const d = parseRange(s, size);
      assert.ok(['full', 'partial', 'unsatisfiable'].includes(d.kind));
      parseContentRange(s);
      parseEtagList(s);
      parseAcceptEncoding(s);
    }),
  );
});

test('etag: If-None-Match (weak compare), If-Match (strong), If-Range', () => {
  const h = 'a'.repeat(64);
  const et = strongEtag(h);
  assert.equal(et, `"${h}"`);
  assert.equal(noneMatchHits(et, et), true);
  assert.equal(noneMatchHits(`W/${et}`, et), true);
  assert.equal(noneMatchHits(`"x", ${et}`, et), true);
  assert.equal(noneMatchHits('*', et), true);
  assert.equal(noneMatchHits('"x"', et), false);
  assert.equal(noneMatchHits(undefined, et), false);
  assert.equal(ifMatchHolds(undefined, et), true);
  assert.equal(ifMatchHolds(`W/${et}`, et), false);
  assert.equal(ifMatchHolds(et, et), true);
  assert.equal(ifRangeHolds(et, et), true);
  assert.equal(ifRangeHolds('"other"', et), false);
  assert.equal(ifRangeHolds('Wed, 21 Oct 2015 07:28:00 GMT', et), false);
});

test('planResponse: precedence of preconditions and Range', () => {
  const et = strongEtag('b'.repeat(64));
  assert.equal(planResponse({}, et, 10).status, 200);
  assert.equal(planResponse({}, et, 10).headers['content-length'], '10');
  assert.equal(planResponse({ 'if-none-match': et, range: 'bytes=0-1' }, et, 10).status, 304);
  assert.equal(planResponse({ 'if-match': '"nope"' }, et, 10).status, 412);
  const p = planResponse({ range: 'bytes=2-4' }, et, 10);
  assert.equal(p.status, 206);
  assert.deepEqual(p.range, { start: 2, end: 5 });
  assert.equal(p.headers['content-range'], 'bytes 2-4/10');
  assert.equal(p.headers['content-length'], '3');
  const u = planResponse({ range: 'bytes=10-' }, et, 10);
  assert.equal(u.status, 416);
  assert.equal(u.headers['content-range'], 'bytes */10');
  assert.equal(planResponse({ range: 'bytes=2-4', 'if-range': '"old"' }, et, 10).status, 200);
  assert.equal(planResponse({ range: 'bytes=2-4', 'if-range': et }, et, 10).status, 206);
});

test('negotiateEncoding: q-values, wildcard, identity exclusions, server preference', () => {
  const all = ['zstd', 'br', 'gzip'] as const;
  assert.equal(negotiateEncoding(undefined, all), 'identity');
  assert.equal(negotiateEncoding('gzip, deflate, br, zstd', all), 'zstd');
  assert.equal(negotiateEncoding('deflate, gzip', all), 'gzip');
  assert.equal(negotiateEncoding('br;q=1.0, gzip;q=0.8, *;q=0.1', all), 'br');
  assert.equal(negotiateEncoding('gzip;q=0.5, br;q=0.9', all), 'br');
  assert.equal(negotiateEncoding('*', all), 'zstd');
  assert.equal(negotiateEncoding('*;q=0', all), 'identity'); // nothing acceptable → identity anyway
  assert.equal(negotiateEncoding('identity', all), 'identity');
  assert.equal(negotiateEncoding('gzip;q=0', ['gzip']), 'identity');
  assert.equal(negotiateEncoding('x-gzip', ['gzip']), 'gzip');
  assert.equal(negotiateEncoding('zstd', ['br', 'gzip']), 'identity');
  assert.equal(negotiateEncoding('gzip;q=abc, br', all), 'br');
  assert.equal(negotiateEncoding('', all), 'identity');
});

const TRAVERSAL = ['..', '../x', 'a/../b', '%2e%2e', '%2e%2e%2fetc', '%252e%252e%252f', '..%2f', '%2F', 'a\\b', '/abs', 'a//b', '.', 'x%00', '%c0%ae%c0%ae'];

test('validation: traversal in names, versions, channels, file paths and hashes is refused with its own code', () => {
  for (const t of TRAVERSAL) {
    assert.throws(() => validateModelName(t), (e: McdnError) => e.code === 'BAD_MODEL_NAME', t);
    assert.throws(() => validateVersion(t), (e: McdnError) => e.code === 'BAD_VERSION', t);
    assert.throws(() => validateChannel(t), (e: McdnError) => e.code === 'BAD_CHANNEL', t);
    assert.throws(() => validateHash(t), (e: McdnError) => e.code === 'BAD_HASH', t);
    assert.throws(() => validateFilePath(t), (e: McdnError) => e.code === 'BAD_FILE_PATH', t);
  }
  assert.equal(validateModelName('silero-vad_v5.onnx'), 'silero-vad_v5.onnx');
  assert.equal(validateVersion('1.2.3+build.7'), '1.2.3+build.7');
  assert.equal(validateChannel('latest'), 'latest');
  assert.equal(validateFilePath('tfjs/group1-shard1of2.bin'), 'tfjs/group1-shard1of2.bin');
  assert.equal(validateFilePath('.gitattributes'), '.gitattributes');
  assert.throws(() => validateFilePath('a/'.repeat(20) + 'b'), /deeper/);
  assert.throws(() => validateModelName('x'.repeat(200)), /invalid model name/);
  assert.throws(() => validateHash('A'.repeat(64)), /sha256/);
});

test('splitUrlPath: decodes once, refuses encoded separators, dot segments and double encoding', () => {
  assert.deepEqual(splitUrlPath('/v1/models/a%20b'), ['v1', 'models', 'a b']);
  for (const p of ['/v1/../x', '/v1/%2e%2e/x', '/v1/%2E%2E%2Fx', '/v1/%252e%252e%252f', '/v1/a%2fb', '/v1/a%5cb', '/v1/%00', '/v1/.', '/v1/%e0%a4%a']) {
    assert.throws(() => splitUrlPath(p), (e: McdnError) => e.category === 'input', p);
  }
  assert.throws(() => splitUrlPath('v1'), /must start/);
  assert.throws(() => splitUrlPath('/' + 'a'.repeat(5000)), (e: McdnError) => e.code === 'URL_TOO_LONG');
});

test('errorResponse: categories map to statuses; internal errors do not leak', () => {
  assert.equal(errorResponse(new McdnError('X', 'not_found', 'm')).status, 404);
  assert.equal(errorResponse(new McdnError('X', 'auth', 'm')).status, 401);
  assert.equal(errorResponse(new McdnError('X', 'input', 'm')).status, 400);
  const r = errorResponse(new Error('secret /path/token=abc'));
  assert.equal(r.status, 500);
  assert.ok(!JSON.stringify(r.body).includes('secret'));
});

test('splitUrlPath / validators: fuzz — only McdnError, never a traversal segment', () => {
  const seg = fc.oneof(
    fc.constantFrom('..', '.', '%2e', '%2E', '%2f', '%2F', '%5c', '%25', '%00', '%c0%ae', '%', '/', '\\', 'a', 'v1', 'models'),
    fc.string({ maxLength: 8 }),
  );
  fc.assert(
    fc.property(fc.array(seg, { maxLength: 12 }), (parts) => {
      const path = '/' + parts.join('');
      try {
        for (const s of splitUrlPath(path)) {
          assert.ok(s !== '.' && s !== '..' && !/[/\\%\x00]/.test(s), `${path} → ${s}`);
        }
      } catch (e) {
        assert.ok(e instanceof McdnError, String(e));
      }
      for (const v of [validateModelName, validateVersion, validateChannel, validateFilePath, validateHash]) {
        try {
          const ok = v(parts.join(''));
          assert.ok(!ok.split('/').some((s) => s === '..' || s === '.'));
          assert.ok(!ok.includes('\\') && !ok.includes('%'));
        } catch (e) {
          assert.ok(e instanceof McdnError, String(e));
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test('planResponse: property — 206 bodies lie inside the blob and headers agree', () => {
  const et = strongEtag('c'.repeat(64));
  fc.assert(
    fc.property(fc.nat(1e7), fc.string({ maxLength: 40 }), fc.option(fc.constantFrom(et, '"x"', '*', `W/${et}`)), (size, range, inm) => {
      const p = planResponse({ range: `bytes=${range}`, ...(inm ? { 'if-none-match': inm } : {}) }, et, size);
      if (p.status === 206) {
        assert.ok(p.range && p.range.start < p.range.end && p.range.end <= size);
        assert.equal(Number(p.headers['content-length']), p.range.end - p.range.start);
      }
      if (p.status === 200) assert.equal(p.headers['content-length'], String(size));
      if (inm && inm !== '"x"') assert.equal(p.status, 304);
    }),
    { numRuns: 1000 },
  );
});

test('skipper drops exactly the first bytes of a chunk stream', () => {
  const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hi')];
  for (let skip = 0; skip <= 9; skip++) {
    const after = skipper(skip);
    const kept = chunks.map((c) => after(c)).filter((c): c is Buffer => c !== undefined);
    assert.equal(Buffer.concat(kept).toString(), 'abcdefghi'.slice(skip));
  }
});

test('pumpToWriter batches writes in order, honours skip and limit, and stops on a chunk error', async () => {
  const { PassThrough } = await import('node:stream');
  const body = new PassThrough();
  const written: string[] = [];
  const p = pumpToWriter(body, {
    skip: 2,
    limit: 6,
    maxPending: 4,
    write: async (batch) => {
      await new Promise((r) => setTimeout(r, 5));
      written.push(Buffer.concat(batch).toString());
    },
  });
  for (const s of ['ab', 'cde', 'f', 'ghij', 'klm']) body.write(s);
  body.end();
  await p;
  assert.equal(written.join(''), 'cdefgh');
  const bad = new PassThrough();
  const q = pumpToWriter(bad, { maxPending: 8, onChunk: (c) => (c.includes('!') ? new Error('bang') : undefined), write: async () => {} });
  bad.write('ok');
  bad.write('no!');
  await assert.rejects(q, /bang/);
});

test('pumpToWriter receives the next batch while a write is in flight, and pauses only while maxPending bytes wait', async () => {
  const { PassThrough } = await import('node:stream');
  const body = new PassThrough();
  let release!: () => void;
  const writes: string[] = [];
  const p = pumpToWriter(body, {
    maxPending: 4,
    write: async (batch) => {
      writes.push(Buffer.concat(batch).toString());
      await new Promise<void>((r) => (release = r));
    },
  });
  body.write('abcd'); // ≥ maxPending: paused, then taken into the first write at once
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ['abcd']);
  assert.equal(body.isPaused(), false, 'resumed as soon as the waiting bytes went into the write');
  body.write('efgh'); // arrives during the write: waits, and pauses the body (maxPending reached)
  await new Promise((r) => setImmediate(r));
  assert.equal(body.isPaused(), true);
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ['abcd', 'efgh']);
  assert.equal(body.isPaused(), false, 'the second batch went into its write: receiving again');
  body.end();
  release();
  await p;
});
