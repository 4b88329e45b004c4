/**
 * Generates docs/cli.md from the command declarations (the single source of truth for --help).
 * Run: node --import tsx scripts/gen-cli-docs.ts   (a test fails when docs/cli.md is stale)
 */
import { writeFileSync } from 'node:fs';
import { commandHelp, commandNames, loadCommand } from '../src/cli/main.ts';

export async function renderCliDocs(): Promise<string> {
  const parts = ['# modelcdn CLI reference', '', 'Generated from the command declarations by `scripts/gen-cli-docs.ts`; the same text is `modelcdn <command> --help`.', ''];
  const names = commandNames();
  parts.push('| command | what it does |', '|---|---|');
  for (const n of names) {
    const c = await loadCommand(n);
    if (c) parts.push(`| [\`${n}\`](#${n}) | ${c.summary.replace(/\|/g, '\\|')} |`);
  }
  for (const n of names) {
    const c = await loadCommand(n);
    if (!c) continue;
    parts.push('', `## ${n}`, '', '```text', commandHelp(n, c), '```');
  }
  return parts.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/cli.md', import.meta.url), await renderCliDocs());
  console.log('wrote docs/cli.md');
}
