/**
 * Which manifest signing key the client trusts. `--trust KEYFILE` (the origin's public key document,
 * a PEM key, or base64 of the raw 32 bytes) always wins. Without it the client uses the key pinned for
 * this server in `<home>/trusted-keys.json`; the first time it talks to a server it fetches
 * `/.well-known/modelcdn/public-key`, pins it (trust on first use, like SSH known_hosts) and says
 * so. A later key change for that server is refused until the pin is removed or --trust is given.
 * Verification itself is verifyManifestEnvelope from src/cdn/manifest.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { McdnError, fromSystemError } from '../../errors.ts';
import { parsePublicKey } from '../manifest/index.ts';
import type { ClientHttp } from './http.ts';

export interface TrustedKey {
  key: KeyObject;
  keyId: string;
  /** where the trust came from */
  source: 'file' | 'pinned' | 'first-use';
}

interface PinFile {
  [server: string]: { keyId: string; publicKey: string; pinnedAt: string };
}

export function pinFilePath(home: string): string {
  return join(home, 'trusted-keys.json');
}

async function readPins(path: string): Promise<PinFile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PinFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new McdnError('TRUST_FILE_UNREADABLE', 'config', `${path}: not a valid trusted-keys file`, { remedy: 'fix or delete it (you will re-pin on first use)' });
  }
}

export async function resolveTrust(opts: { http: ClientHttp; home: string; trustFile?: string | undefined; signal?: AbortSignal; onNote?: (m: string) => void }): Promise<TrustedKey> {
  if (opts.trustFile) {
    let text: string;
    try {
      text = await readFile(opts.trustFile, 'utf8');
    } catch (e) {
      throw fromSystemError(e, opts.trustFile);
    }
    const k = parsePublicKey(text);
    return { key: k.key, keyId: k.keyId, source: 'file' };
  }
  const path = pinFilePath(opts.home);
  const pins = await readPins(path);
  const server = opts.http.base;
  const pinned = pins[server];
  if (pinned) {
    const k = parsePublicKey(pinned.publicKey);
    return { key: k.key, keyId: k.keyId, source: 'pinned' };
  }
  const doc = await opts.http.getJson<{ keyId?: string; publicKey?: string }>('/.well-known/modelcdn/public-key', opts.signal);
  if (!doc || typeof doc.publicKey !== 'string') {
    throw new McdnError('NO_PUBLIC_KEY', 'integrity', `${server} does not publish a signing key`, { remedy: 'pass --trust KEYFILE with the origin public key' });
  }
  const k = parsePublicKey(JSON.stringify(doc));
  pins[server] = { keyId: k.keyId, publicKey: doc.publicKey, pinnedAt: new Date().toISOString() };
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, JSON.stringify(pins, null, 2));
    await rename(`${path}.tmp`, path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  opts.onNote?.(`trusting signing key ${k.keyId} of ${server} on first use (pinned in ${path})`);
  return { key: k.key, keyId: k.keyId, source: 'first-use' };
}
