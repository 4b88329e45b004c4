/**
 * `modelcdn keygen`: create an ed25519 signing key pair for manifests — `modelcdn-ed25519.key`
 * (PKCS#8 PEM, mode 0600) and `modelcdn-ed25519.pub.json` ({keyId, algorithm, publicKey}) — in
 * --out DIR. The origin creates one on first run in <data>/keys; use this to make one ahead of time
 * (copy it into <data>/keys) or to hand clients the public half for `--trust`.
 */
import { defineCommand, flagBool, flagString } from '../command.ts';

export default defineCommand({
  summary: 'create an ed25519 key pair for signing manifests',
  description:
    'Writes modelcdn-ed25519.key (private, PEM PKCS#8, mode 0600) and modelcdn-ed25519.pub.json (the public key ' +
    'document the origin serves at /.well-known/modelcdn/public-key; clients pin it with --trust). An origin uses ' +
    '<data>/keys and creates a key there on first run if none exists. Refuses to overwrite an existing key unless --force.',
  flags: {
    out: { type: 'string', description: 'directory to write the key files into', default: '.', placeholder: 'DIR' },
    force: { type: 'boolean', description: 'overwrite an existing key (old signatures stop verifying)' },
  },
  json: true,
  examples: ['modelcdn keygen --out ./keys', 'modelcdn keygen --out ./origin-data/keys --force'],
  async run(ctx) {
    const { generateSigningKey } = await import('../../cdn/manifest/sign.ts');
    const { writeKeyPair } = await import('../../cdn/origin/data-dir.ts');
    const dir = flagString(ctx.flags, 'out') ?? '.';
    const keys = generateSigningKey();
    const files = writeKeyPair(dir, keys, { overwrite: flagBool(ctx.flags, 'force') });
    ctx.out.result({ keyId: keys.keyId, ...files }, (v) => [`key id ${v.keyId}`, `private key: ${v.keyFile}`, `public key:  ${v.publicFile}`]);
  },
});
