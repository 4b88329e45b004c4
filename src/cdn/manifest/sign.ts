/**
 * ed25519 signatures over manifest payload bytes (node:crypto). The envelope is
 * `{payload: base64(bytes), signature: base64(ed25519(bytes)), keyId}`; keyId is the first 16 hex
 * digits of sha256(raw 32-byte public key). `verifyManifestEnvelope` is what clients and edges call:
 * it checks the envelope shape, the key id and the signature over the exact payload bytes, and only
 * then parses the manifest. Key files are read and written by the `keygen` command and the origin;
 * this module does no other I/O.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { McdnError, inputError, integrityError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';
import { encodeManifest, parseManifest, MAX_MANIFEST_BYTES, type Manifest } from './manifest.ts';

export interface ManifestEnvelope {
  payload: string;
  signature: string;
  keyId: string;
}

/** DER prefix of an SPKI-wrapped ed25519 public key (RFC 8410); the raw 32 bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_SIGNATURE_BYTES = 64;

export function keyIdOf(rawPublicKey: Uint8Array): string {
  return sha256Hex(rawPublicKey).slice(0, 16);
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw inputError('BAD_PUBLIC_KEY', `an ed25519 public key has 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export function generateSigningKey(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: keyIdOf(rawPublicKey(publicKey)) };
}

/** PEM text of the private key (PKCS#8), for the key file. */
export function privateKeyPem(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Load a private key from PEM text and derive the public half and key id. */
export function keyPairFromPem(pem: string): KeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw inputError('BAD_PRIVATE_KEY', 'the private key file is not a PEM PKCS#8 key');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw inputError('BAD_PRIVATE_KEY', `the private key is ${privateKey.asymmetricKeyType}, expected ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(rawPublicKey(publicKey)) };
}

/** The document served at /.well-known/modelcdn/public-key and written by keygen as <name>.pub.json. */
export interface PublicKeyDocument {
  keyId: string;
  algorithm: 'ed25519';
  publicKey: string;
}

export function publicKeyDocument(k: KeyObject): PublicKeyDocument {
  const raw = rawPublicKey(k);
  return { keyId: keyIdOf(raw), algorithm: 'ed25519', publicKey: Buffer.from(raw).toString('base64') };
}

/**
 * Parse a trusted public key given as the JSON document, a PEM SPKI key, or base64 of the raw 32
 * bytes (what `--trust KEYFILE` accepts).
 */
export function parsePublicKey(text: string): { key: KeyObject; keyId: string } {
  const t = text.trim();
  let raw: Uint8Array | undefined;
  if (t.startsWith('{')) {
    let doc: Partial<PublicKeyDocument>;
    try {
      doc = JSON.parse(t) as Partial<PublicKeyDocument>;
    } catch {
      throw inputError('BAD_PUBLIC_KEY', 'public key document is not valid JSON');
    }
    if (typeof doc.publicKey !== 'string') throw inputError('BAD_PUBLIC_KEY', 'public key document has no publicKey field');
    raw = new Uint8Array(Buffer.from(doc.publicKey, 'base64'));
  } else if (t.startsWith('-----BEGIN')) {
    let k: KeyObject;
    try {
      k = createPublicKey(t);
    } catch {
      throw inputError('BAD_PUBLIC_KEY', 'not a PEM public key');
    }
    if (k.asymmetricKeyType !== 'ed25519') throw inputError('BAD_PUBLIC_KEY', `public key is ${k.asymmetricKeyType}, expected ed25519`);
    raw = rawPublicKey(k);
  } else if (/^[A-Za-z0-9+/]{43}=$/.test(t)) {
    raw = new Uint8Array(Buffer.from(t, 'base64'));
  } else {
    throw inputError('BAD_PUBLIC_KEY', 'public key must be the JSON document, a PEM key, or base64 of 32 raw bytes');
  }
  return { key: publicKeyFromRaw(raw), keyId: keyIdOf(raw) };
}

/** Sign a manifest: the payload is `encodeManifest(m)` and the signature covers exactly those bytes. */
export function signManifest(m: Manifest, keys: Pick<KeyPair, 'privateKey' | 'keyId'>): ManifestEnvelope {
  return signPayload(encodeManifest(m), keys);
}

export function signPayload(payload: Uint8Array, keys: Pick<KeyPair, 'privateKey' | 'keyId'>): ManifestEnvelope {
  const signature = sign(null, payload, keys.privateKey);
  return { payload: Buffer.from(payload).toString('base64'), signature: signature.toString('base64'), keyId: keys.keyId };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Verify an envelope (parsed JSON, or its text/bytes) against a trusted public key and return the
 * manifest. Throws integrity errors MANIFEST_KEY_MISMATCH / MANIFEST_SIGNATURE_INVALID, input errors
 * MANIFEST_ENVELOPE_MALFORMED for a bad shape, and parseManifest's errors for a bad payload.
 */
export function verifyManifestEnvelope(envelope: unknown, publicKey: KeyObject | Uint8Array | string): Manifest {
  let env = envelope;
  if (env instanceof Uint8Array) env = new TextDecoder().decode(env);
  if (typeof env === 'string') {
    try {
      env = JSON.parse(env);
    } catch {
      throw inputError('MANIFEST_ENVELOPE_MALFORMED', 'manifest envelope is not valid JSON');
    }
  }
  const e = env as Partial<ManifestEnvelope> | null;
  if (typeof e !== 'object' || e === null || typeof e.payload !== 'string' || typeof e.signature !== 'string' || typeof e.keyId !== 'string') {
    throw inputError('MANIFEST_ENVELOPE_MALFORMED', 'manifest envelope must be {payload, signature, keyId} strings');
  }
  if (e.payload.length > Math.ceil((MAX_MANIFEST_BYTES * 4) / 3) + 4 || !B64.test(e.payload) || !B64.test(e.signature)) {
    throw inputError('MANIFEST_ENVELOPE_MALFORMED', 'manifest envelope payload or signature is not base64 (or too large)');
  }
  const key =
    typeof publicKey === 'string' ? parsePublicKey(publicKey).key : publicKey instanceof Uint8Array ? publicKeyFromRaw(publicKey) : publicKey;
  const keyId = keyIdOf(rawPublicKey(key));
  if (e.keyId !== keyId) {
    throw new McdnError('MANIFEST_KEY_MISMATCH', 'integrity', `manifest is signed by key ${e.keyId.slice(0, 32)}, but the trusted key is ${keyId}`, {
      remedy: 'check --trust, or the origin rotated its key',
    });
  }
  const payload = Buffer.from(e.payload, 'base64');
  const sig = Buffer.from(e.signature, 'base64');
  if (sig.length !== ED25519_SIGNATURE_BYTES || !verify(null, payload, key, sig)) {
    throw integrityError('MANIFEST_SIGNATURE_INVALID', 'manifest signature does not verify against the trusted key');
  }
  return parseManifest(new Uint8Array(payload));
}
