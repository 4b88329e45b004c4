/**
 * Declarative CLI commands (STYLE.md §11). A command is a module in src/cli/commands/<name>.ts whose
 * default export is a `Command`: description, typed flags, positionals and examples; `--help` and the
 * README's CLI reference are generated from these declarations. Commands write only through `ctx.out`
 * and throw `McdnError` for failures; the dispatcher maps errors to one line and an exit code.
 * Heavy dependencies (onnxruntime, tfjs, sqlite) are imported inside `run`, not at module top.
 */
import type { Output } from './output.ts';

export interface FlagSpec {
  type: 'string' | 'boolean' | 'number';
  description: string;
  short?: string;
  default?: string | boolean | number;
  /** may be given several times (values collected in an array) */
  multiple?: boolean;
  /** value placeholder shown in help, e.g. FILE */
  placeholder?: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
  required?: boolean;
  /** takes all remaining positionals */
  variadic?: boolean;
}

export type FlagValues = Record<string, string | boolean | number | string[] | undefined>;

export interface CommandContext {
  /** positional arguments by name (variadic ones as arrays) */
  args: Record<string, string | string[] | undefined>;
  flags: FlagValues;
  out: Output;
  /** environment, for defaults such as MODELCDN_SERVER */
  env: NodeJS.ProcessEnv;
  /** aborted on SIGINT/SIGTERM */
  signal: AbortSignal;
}

export interface Command {
  summary: string;
  /** longer description, shown by --help */
  description?: string;
  positionals?: PositionalSpec[];
  flags?: Record<string, FlagSpec>;
  examples?: string[];
  /** true if the command supports --json (added automatically to its flags) */
  json?: boolean;
  /** return an exit code (default 0) */
  run(ctx: CommandContext): Promise<number | void>;
}

export function defineCommand(c: Command): Command {
  return c;
}

/** Typed accessors for flag values (the parser already validated types). */
export function flagString(flags: FlagValues, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}
export function flagNumber(flags: FlagValues, name: string): number | undefined {
  const v = flags[name];
  return typeof v === 'number' ? v : undefined;
}
export function flagBool(flags: FlagValues, name: string): boolean {
  return flags[name] === true;
}
