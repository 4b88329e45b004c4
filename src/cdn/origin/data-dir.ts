/**
 * Layout of an origin's data folder and its first-run setup: `registry.db` (SQLite), `blobs/` (the
 * filesystem BlobStore), `uploads/` (partial upload sessions), `work/` (temp files of background
 * jobs), `keys/` (the ed25519 signing key, created on first run, mode 0600). Used by the `origin`
 * and `token` commands; touches nothing outside the folder.
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fromSystemError } from '../../errors.ts';
import { generateSigningKey, keyPairFromPem, privateKeyPem, publicKeyDocument, type KeyPair } from '../manifest/sign.ts';

export const KEY_FILE = 'modelcdn-ed25519.key';
export const PUBLIC_KEY_FILE = 'modelcdn-ed25519.pub.json';

export interface DataPaths {
  root: string;
  db: string;
  blobs: string;
  uploads: string;
  work: string;
  keys: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    db: join(root, 'registry.db'),
    blobs: join(root, 'blobs'),
    uploads: join(root, 'uploads'),
    work: join(root, 'work'),
    keys: join(root, 'keys'),
  };
}

export function ensureDataDir(root: string): DataPaths {
  const p = dataPaths(root);
  for (const d of [p.root, p.blobs, p.uploads, p.work, p.keys]) {
    try {
      mkdirSync(d, { recursive: true });
    } catch (e) {
      throw fromSystemError(e, d);
    }
  }
  return p;
}

/** Write the key pair into `dir` (temp file + rename; private key mode 0600). Refuses to overwrite. */
export function writeKeyPair(dir: string, keys: KeyPair, opts: { overwrite?: boolean } = {}): { keyFile: string; publicFile: string } {
  const keyFile = join(dir, KEY_FILE);
  const publicFile = join(dir, PUBLIC_KEY_FILE);
  mkdirSync(dir, { recursive: true });
  if (!opts.overwrite && existsSync(keyFile)) {
    throw fromSystemError(Object.assign(new Error('exists'), { code: 'EEXIST' }), keyFile);
  }
  const tmpKey = `${keyFile}.${process.pid}.tmp`;
  writeFileSync(tmpKey, privateKeyPem(keys.privateKey), { mode: 0o600 });
  chmodSync(tmpKey, 0o600);
  renameSync(tmpKey, keyFile);
  const tmpPub = `${publicFile}.${process.pid}.tmp`;
  writeFileSync(tmpPub, JSON.stringify(publicKeyDocument(keys.publicKey), null, 2) + '\n');
  renameSync(tmpPub, publicFile);
  return { keyFile, publicFile };
}

/** Load the signing key from `dir`, creating one on first run. */
export function loadOrCreateKeys(dir: string): KeyPair {
  const keyFile = join(dir, KEY_FILE);
  if (existsSync(keyFile)) {
    let pem: string;
    try {
      pem = readFileSync(keyFile, 'utf8');
    } catch (e) {
      throw fromSystemError(e, keyFile);
    }
    return keyPairFromPem(pem);
  }
  const keys = generateSigningKey();
  writeKeyPair(dir, keys);
  return keys;
}
