/**
 * `modelcdn token create|list|revoke --data DIR`: manage publish tokens in an origin's registry
 * (run where the origin's data lives). Only a sha256 of each token is stored; `create` prints the
 * new token once, as its last line.
 */
import { defineCommand, flagString } from '../command.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'create, list or revoke publish tokens of an origin',
  description:
    'Tokens authorize `modelcdn publish` (sent as a bearer token). The registry stores only a hash; the token ' +
    'itself is printed once by `create` (its last line). `list` shows ids, names and last use; `revoke ID` disables one.',
  positionals: [
    { name: 'action', description: 'create | list | revoke', required: true },
    { name: 'id', description: 'token id (for revoke)' },
  ],
  flags: {
    data: { type: 'string', description: "the origin's data directory", placeholder: 'DIR' },
    name: { type: 'string', description: 'a label for the new token (create)', default: 'publish' },
  },
  json: true,
  examples: ['modelcdn token create --data ./origin-data --name ci', 'modelcdn token list --data ./origin-data', 'modelcdn token revoke 3f2a9c01d4e5 --data ./origin-data'],
  async run(ctx) {
    const data = flagString(ctx.flags, 'data');
    if (!data) throw inputError('NO_DATA_DIR', 'token: --data DIR is required', {}, "pass the origin's data directory");
    const action = ctx.args['action'] as string;
    const { ensureDataDir } = await import('../../cdn/origin/data-dir.ts');
    const { Registry } = await import('../../cdn/registry/registry.ts');
    const registry = new Registry(ensureDataDir(data).db);
    try {
      if (action === 'create') {
        const name = (flagString(ctx.flags, 'name') ?? 'publish').slice(0, 100);
        const t = registry.createToken(name);
        ctx.out.result({ id: t.id, name, token: t.token }, (v) => [`created token ${v.id} (${v.name}); it is shown only once:`, v.token]);
      } else if (action === 'list') {
        const rows = registry.listTokens();
        const { table } = await import('../output.ts');
        const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString().replace(/\.\d+Z$/, 'Z'));
        ctx.out.result(
          rows.map((r) => ({ id: r.id, name: r.name, createdAt: iso(r.createdAt), lastUsedAt: r.lastUsedAt === null ? null : iso(r.lastUsedAt), revoked: r.revokedAt !== null })),
          (v) => (v.length === 0 ? 'no tokens' : table(['id', 'name', 'created', 'last used', 'state'], v.map((r) => [r.id, r.name, r.createdAt, r.lastUsedAt ?? '-', r.revoked ? 'revoked' : 'active']))),
        );
      } else if (action === 'revoke') {
        const id = ctx.args['id'] as string | undefined;
        if (!id) throw inputError('NO_TOKEN_ID', 'token revoke: missing ID', {}, 'see `modelcdn token list`');
        if (!registry.revokeToken(id)) {
          const known = registry.listTokens().some((r) => r.id === id);
          throw inputError(known ? 'TOKEN_ALREADY_REVOKED' : 'TOKEN_NOT_FOUND', known ? `token ${id} is already revoked` : `no token with id '${id.slice(0, 40)}'`);
        }
        ctx.out.result({ id, revoked: true }, (v) => `revoked token ${v.id}`);
      } else {
        throw inputError('BAD_TOKEN_ACTION', `token: unknown action '${action.slice(0, 40)}'`, {}, 'use create, list or revoke');
      }
    } finally {
      registry.close();
    }
  },
});
