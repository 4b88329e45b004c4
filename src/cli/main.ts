/**
 * CLI dispatcher: finds the command module by name (src/cli/commands/<name>.ts), parses its declared
 * flags with node:util parseArgs, runs it, and maps every failure to one line on stderr and an exit
 * code from errors.ts. Only the invoked command's module is imported.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Command, FlagValues } from './command.ts';
import { createOutput, type OutputStreams } from './output.ts';
import { EXIT_CODES, McdnError } from '../errors.ts';

const COMMANDS_DIR = fileURLToPath(new URL('./commands/', import.meta.url));

export function commandNames(): string[] {
  return readdirSync(COMMANDS_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

export async function loadCommand(name: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !commandNames().includes(name)) return undefined;
  const mod = (await import(pathToFileURL(join(COMMANDS_DIR, `${name}.ts`)).href)) as { default: Command };
  return mod.default;
}

export function commandHelp(name: string, c: Command): string {
  const pos = (c.positionals ?? []).map((p) => (p.required ? `${p.name.toUpperCase()}${p.variadic ? '...' : ''}` : `[${p.name.toUpperCase()}${p.variadic ? '...' : ''}]`));
  const lines = [`Usage: modelcdn ${name} ${[...pos, '[options]'].join(' ')}`, '', c.summary];
  if (c.description) lines.push('', c.description);
  if (c.positionals?.length) {
    lines.push('', 'Arguments:');
    for (const p of c.positionals) lines.push(`  ${p.name.toUpperCase().padEnd(22)} ${p.description}`);
  }
  lines.push('', 'Options:');
  for (const [fname, f] of Object.entries(allFlags(c))) {
    const head = `${f.short ? `-${f.short}, ` : ''}--${fname}${f.type === 'boolean' ? '' : ` ${f.placeholder ?? (f.type === 'number' ? 'N' : 'VALUE')}`}`;
    const def = f.default !== undefined ? ` (default: ${f.default})` : '';
    lines.push(`  ${head.padEnd(22)} ${f.description}${def}`);
  }
  if (c.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of c.examples) lines.push(`  ${e}`);
  }
  return lines.join('\n');
}

function allFlags(c: Command): NonNullable<Command['flags']> {
  const f: NonNullable<Command['flags']> = { ...(c.flags ?? {}) };
  if (c.json) f['json'] = { type: 'boolean', description: 'print the result as JSON' };
  f['help'] = { type: 'boolean', short: 'h', description: 'show this help' };
  return f;
}

async function globalHelp(): Promise<string> {
  const lines = ['modelcdn — ship AI models cheap and fast', '', 'Usage: modelcdn <command> [options]', '', 'Commands:'];
  for (const n of commandNames()) {
    const c = await loadCommand(n);
    if (c) lines.push(`  ${n.padEnd(12)} ${c.summary}`);
  }
  lines.push('', 'Run `modelcdn <command> --help` for the options of one command.');
  return lines.join('\n');
}

function parse(name: string, c: Command, argv: string[]): { args: Record<string, string | string[] | undefined>; flags: FlagValues } {
  const flagSpecs = allFlags(c);
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [k, f] of Object.entries(flagSpecs)) {
    options[k] = { type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new McdnError('BAD_ARGUMENTS', 'input', `${name}: ${(e as Error).message.split('\n')[0]}`, { remedy: `see \`modelcdn ${name} --help\`` });
  }
  const flags: FlagValues = {};
  for (const [k, f] of Object.entries(flagSpecs)) {
    const raw = (parsed.values as Record<string, unknown>)[k];
    if (raw === undefined) {
      if (f.default !== undefined) flags[k] = f.default;
      continue;
    }
    if (f.type === 'number') {
      const n = Number(raw);
      if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
        throw new McdnError('BAD_ARGUMENTS', 'input', `${name}: --${k} expects a number, got '${String(raw)}'`);
      }
      flags[k] = n;
    } else {
      flags[k] = raw as string | boolean | string[];
    }
  }
  const args: Record<string, string | string[] | undefined> = {};
  const pos = [...parsed.positionals];
  if (flags['help'] === true) return { args, flags };
  for (const p of c.positionals ?? []) {
    if (p.variadic) {
      args[p.name] = pos.splice(0);
      if (p.required && (args[p.name] as string[]).length === 0) {
        throw new McdnError('BAD_ARGUMENTS', 'input', `${name}: missing ${p.name.toUpperCase()}`, { remedy: `see \`modelcdn ${name} --help\`` });
      }
    } else {
      const v = pos.shift();
      if (v === undefined && p.required) {
        throw new McdnError('BAD_ARGUMENTS', 'input', `${name}: missing ${p.name.toUpperCase()}`, { remedy: `see \`modelcdn ${name} --help\`` });
      }
      args[p.name] = v;
    }
  }
  if (pos.length) throw new McdnError('BAD_ARGUMENTS', 'input', `${name}: unexpected argument '${pos[0]}'`, { remedy: `see \`modelcdn ${name} --help\`` });
  return { args, flags };
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], streams: OutputStreams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? rest[0] : undefined;
    if (target) return main([target, '--help'], streams);
    streams.stdout.write((await globalHelp()) + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    streams.stdout.write(pkg.version + '\n');
    return 0;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    streams.stderr.write(`error: unknown command '${name}'; run \`modelcdn --help\` for the list\n`);
    return 2;
  }
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { args, flags } = parse(name, cmd, rest);
    if (flags['help'] === true) {
      streams.stdout.write(commandHelp(name, cmd) + '\n');
      return 0;
    }
    const out = createOutput(flags['json'] === true, streams);
    const code = await cmd.run({ args, flags, out, env: process.env, signal: ac.signal });
    return code ?? 0;
  } catch (e) {
    return reportError(e, streams);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function reportError(e: unknown, streams: OutputStreams): number {
  if (e instanceof McdnError) {
    streams.stderr.write(`error: ${e.message}${e.remedy ? ` (${e.remedy})` : ''}\n`);
    if (process.env['MODELCDN_DEBUG']) streams.stderr.write(String(e.stack) + '\n');
    return EXIT_CODES[e.category];
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.name === 'AbortError') {
    streams.stderr.write('error: cancelled\n');
    return EXIT_CODES.cancelled;
  }
  streams.stderr.write(`error: internal error: ${err?.message ?? String(e)} (please report this; set MODELCDN_DEBUG=1 for a stack trace)\n`);
  if (process.env['MODELCDN_DEBUG']) streams.stderr.write(String(err?.stack) + '\n');
  return EXIT_CODES.internal;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
