import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandHelp, commandNames, loadCommand } from './main.ts';
import { runMain } from '../../test/support/cli.ts';
import { formatBytes, parseBytes, table } from './output.ts';

const run = runMain;

describe('cli dispatcher', () => {
  it('lists every command in the global help', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const n of commandNames()) assert.match(r.stdout, new RegExp(`^  ${n} `, 'm'));
  });

  it('no command prints help and exits 2', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /Usage: modelcdn <command>/);
  });

  it('an unknown command is one clear line and exit 2', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  it('names with path characters are not loaded as modules', async () => {
    assert.equal(await loadCommand('../main'), undefined);
    assert.equal(await loadCommand('commands/x'), undefined);
  });

  it('prints the package version', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  it('every command has a summary, --help, and rejects unknown flags with one line', async () => {
    for (const n of commandNames()) {
      const c = await loadCommand(n);
      assert.ok(c && c.summary.length > 0, n);
      assert.match(commandHelp(n, c), new RegExp(`Usage: modelcdn ${n}`));
      const h = await run([n, '--help']);
      assert.equal(h.code, 0, n);
      const bad = await run([n, '--definitely-not-a-flag']);
      assert.notEqual(bad.code, 0, n);
      assert.equal(bad.stderr.trim().split('\n').length, 1, `${n}: ${bad.stderr}`);
    }
  });
});

describe('output helpers', () => {
  it('parses byte sizes', () => {
    assert.equal(parseBytes('20GB'), 20e9);
    assert.equal(parseBytes('512MiB'), 512 * 2 ** 20);
    assert.equal(parseBytes('1.5g'), 1.5e9);
    assert.equal(parseBytes('4096'), 4096);
    assert.ok(Number.isNaN(parseBytes('lots')));
  });
  it('formats byte sizes', () => {
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(10_822_323), '10.8 MB');
    assert.equal(formatBytes(2e9), '2.0 GB');
  });
  it('aligns tables', () => {
    const t = table(['model', 'size'], [['a', 1], ['bbbb', 22]]).split('\n');
    assert.equal(t.length, 4);
    assert.equal(new Set(t.map((l) => l.length)).size <= 2, true);
  });
});
