import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { McdnError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';
import {
  encodeManifest,
  generateSigningKey,
  parseManifest,
  parsePublicKey,
  privateKeyPem,
  keyPairFromPem,
  publicKeyDocument,
  rawPublicKey,
  signManifest,
  verifyManifestEnvelope,
  type Manifest,
} from './index.ts';

const H = (s: string) => sha256Hex(s);

function sample(): Manifest {
  return {
    schema: 1,
    name: 'demo',
    version: '1.1',
    createdAt: new Date(0).toISOString(),
    files: [
      {
        path: 'model.onnx',
        size: 1234,
        sha256: H('a'),
        format: 'onnx',
        packed: { blob: H('p'), size: 900, codec: 'mcz' },
        encodings: { zstd: { blob: H('z'), size: 1000 } },
        patches: [{ fromVersion: '1.0', fromSha256: H('old'), blob: H('patch'), size: 50, method: 'tensor' }],
      },
      { path: 'tokenizer/vocab.txt', size: 5, sha256: H('b'), format: 'text', patches: [] },
    ],
  };
}

test('sign → verify round-trip with every accepted key form', () => {
  const k = generateSigningKey();
  const env = signManifest(sample(), k);
  assert.equal(env.keyId, k.keyId);
  assert.deepEqual(verifyManifestEnvelope(env, k.publicKey), sample());
  assert.deepEqual(verifyManifestEnvelope(JSON.stringify(env), rawPublicKey(k.publicKey)), sample());
  const doc = publicKeyDocument(k.publicKey);
  assert.deepEqual(verifyManifestEnvelope(env, JSON.stringify(doc)), sample());
  assert.deepEqual(verifyManifestEnvelope(env, doc.publicKey), sample());
  assert.deepEqual(verifyManifestEnvelope(env, k.publicKey.export({ format: 'pem', type: 'spki' }).toString()), sample());
  const again = keyPairFromPem(privateKeyPem(k.privateKey));
  assert.equal(again.keyId, k.keyId);
  assert.equal(parsePublicKey(JSON.stringify(doc)).keyId, k.keyId);
  // the payload is exactly encodeManifest's bytes
  assert.deepEqual(new Uint8Array(Buffer.from(env.payload, 'base64')), encodeManifest(sample()));
});

test('tampered payload, signature, or a different key is rejected', () => {
  const k = generateSigningKey();
  const other = generateSigningKey();
  const env = signManifest(sample(), k);
  const payload = Buffer.from(env.payload, 'base64');
  payload[20] ^= 1;
  assert.throws(() => verifyManifestEnvelope({ ...env, payload: payload.toString('base64') }, k.publicKey), (e: McdnError) => e.code === 'MANIFEST_SIGNATURE_INVALID');
  const sig = Buffer.from(env.signature, 'base64');
  sig[5] ^= 0x80;
  assert.throws(() => verifyManifestEnvelope({ ...env, signature: sig.toString('base64') }, k.publicKey), (e: McdnError) => e.code === 'MANIFEST_SIGNATURE_INVALID');
  assert.throws(() => verifyManifestEnvelope({ ...env, signature: sig.subarray(0, 10).toString('base64') }, k.publicKey), (e: McdnError) => e.code === 'MANIFEST_SIGNATURE_INVALID');
  assert.throws(() => verifyManifestEnvelope(env, other.publicKey), (e: McdnError) => e.code === 'MANIFEST_KEY_MISMATCH' && e.category === 'integrity');
  // an attacker re-signing with their own key but claiming our key id still fails
  const forged = signManifest({ ...sample(), version: '9.9' }, { privateKey: other.privateKey, keyId: k.keyId });
  assert.throws(() => verifyManifestEnvelope(forged, k.publicKey), (e: McdnError) => e.code === 'MANIFEST_SIGNATURE_INVALID');
  assert.throws(() => verifyManifestEnvelope('not json', k.publicKey), (e: McdnError) => e.code === 'MANIFEST_ENVELOPE_MALFORMED');
  assert.throws(() => verifyManifestEnvelope({ payload: 1 }, k.publicKey), (e: McdnError) => e.code === 'MANIFEST_ENVELOPE_MALFORMED');
  assert.throws(() => verifyManifestEnvelope({ ...env, payload: '!!!' }, k.publicKey), (e: McdnError) => e.code === 'MANIFEST_ENVELOPE_MALFORMED');
});

test('parseManifest: one code per failed check, traversal paths refused', () => {
  const enc = (m: unknown) => new TextEncoder().encode(JSON.stringify(m));
  const cases: [unknown, string][] = [
    [{ ...sample(), schema: 2 }, 'MANIFEST_BAD_SCHEMA'],
    [{ ...sample(), name: '../x' }, 'MANIFEST_BAD_NAME'],
    [{ ...sample(), version: '' }, 'MANIFEST_BAD_VERSION'],
    [{ ...sample(), createdAt: 'yesterday' }, 'MANIFEST_BAD_DATE'],
    [{ ...sample(), files: {} }, 'MANIFEST_BAD_FILES'],
    [{ ...sample(), files: [{ ...sample().files[0], path: '../../etc/passwd' }] }, 'MANIFEST_BAD_PATH'],
    [{ ...sample(), files: [sample().files[1], sample().files[1]] }, 'MANIFEST_DUPLICATE_PATH'],
    [{ ...sample(), files: [{ ...sample().files[0], size: -1 }] }, 'MANIFEST_BAD_SIZE'],
    [{ ...sample(), files: [{ ...sample().files[0], sha256: 'zz' }] }, 'MANIFEST_BAD_HASH'],
    [{ ...sample(), files: [{ ...sample().files[0], packed: { blob: H('x'), size: 1, codec: 'zip' } }] }, 'MANIFEST_BAD_PACKED'],
    [{ ...sample(), files: [{ ...sample().files[0], encodings: { lz4: { blob: H('x'), size: 1 } } }] }, 'MANIFEST_BAD_ENCODINGS'],
    [{ ...sample(), files: [{ ...sample().files[0], patches: 'x' }] }, 'MANIFEST_BAD_PATCHES'],
    [[], 'MANIFEST_NOT_OBJECT'],
  ];
  for (const [m, code] of cases) assert.throws(() => parseManifest(enc(m)), (e: McdnError) => e.code === code, code);
  assert.throws(() => parseManifest(new Uint8Array([0xff, 0xfe])), (e: McdnError) => e.code === 'MANIFEST_NOT_JSON');
});

test('parseManifest: fuzz — truncations and byte flips parse or throw McdnError', () => {
  const bytes = encodeManifest(sample());
  fc.assert(
    fc.property(fc.nat(bytes.length), fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), (cut, flips) => {
      const b = bytes.slice(0, Math.max(cut, 1));
      for (const [i, x] of flips) if (i < b.length) b[i] ^= x;
      try {
        parseManifest(b);
      } catch (e) {
        assert.ok(e instanceof McdnError, String(e));
      }
    }),
    { numRuns: 500 },
  );
});

// Golden vector: ed25519 key from the seed 00 01 … 1f (public key 03a107bf…31b8, as in common
// ed25519 test suites); signatures are deterministic, so any implementation must reproduce these bytes.
const GOLDEN = {
  publicKey: 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=',
  envelope: {
    payload:
      'eyJzY2hlbWEiOjEsIm5hbWUiOiJnb2xkZW4iLCJ2ZXJzaW9uIjoiMS4wIiwiY3JlYXRlZEF0IjoiMjAyNi0wMS0wMVQwMDowMDowMC4wMDBaIiwiZmlsZXMiOlt7InBhdGgiOiJtb2RlbC5vbm54Iiwic2l6ZSI6Mywic2hhMjU2IjoiYmE3ODE2YmY4ZjAxY2ZlYTQxNDE0MGRlNWRhZTIyMjNiMDAzNjFhMzk2MTc3YTljYjQxMGZmNjFmMjAwMTVhZCIsImZvcm1hdCI6Im9ubngiLCJwYXRjaGVzIjpbXX1dfQ==',
    signature: 'a5HYpdcNXZlx4U9nEq6f2ul6jq+HgWugHcUuGRXWdek3w+hqWyaVViSkkfkHmaVi8cnIWnnPtCEEwB6oUgbiAQ==',
    keyId: '56475aa75463474c',
  },
};

test('golden vector: fixed key and manifest give the documented envelope, and it verifies', async () => {
  const { createPrivateKey } = await import('node:crypto');
  const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const m = verifyManifestEnvelope(GOLDEN.envelope, GOLDEN.publicKey);
  assert.equal(m.name, 'golden');
  assert.equal(m.files[0]!.sha256, sha256Hex('abc'));
  assert.deepEqual(signManifest(m, { privateKey, keyId: GOLDEN.envelope.keyId }), GOLDEN.envelope);
});
