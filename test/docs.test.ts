/** The CLI reference in docs/cli.md is generated from the command declarations and must not go stale. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderCliDocs } from '../scripts/gen-cli-docs.ts';
import { REPO_ROOT } from './fixtures.ts';

test('docs/cli.md matches the command declarations (regenerate: node --import tsx scripts/gen-cli-docs.ts)', async () => {
  assert.equal(await readFile(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8'), await renderCliDocs());
});

test('the README links every command through docs/cli.md and names both quick-start commands', async () => {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /^npm test/m);
  assert.match(readme, /docs\/cli\.md/);
});
