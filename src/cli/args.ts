import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidConfigError } from '../errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** A verb of the command line: its options, its help, and what it does. */
export interface Verb {
  name: string;
  /** other names of the verb (Docker's: `ps` for `list`, `rm` for `delete`, `inspect` for `info`) */
  aliases?: string[];
  summary: string;
  usage: string;
  options: OptionSpec;
  /** the rest of the line after the first positional belongs to the container (`run CMD ARG…`) */
  stopAtPositional?: boolean;
  run(ctx: Context, values: Values, positionals: string[]): Promise<number>;
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context {
  root: string;
  /** the --driver given, if any */
  driver?: string;
}

/**
 * Split `[options] [--] CMD ARG…` where the options stop at `--` or at the first word that is not
 * an option (so `run --rootfs r sh -c 'x'` keeps `-c` for the container).
 */
export function splitAtCommand(args: string[], options: OptionSpec): [string[], string[]] {
  const takesValue = new Set<string>();
  for (const [long, o] of Object.entries(options)) {
    if (o.type === 'string') {
      takesValue.add(`--${long}`);
      if (o.short) takesValue.add(`-${o.short}`);
    }
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return [args.slice(0, i), args.slice(i + 1)];
    if (!a.startsWith('-') || a === '-') return [args.slice(0, i), args.slice(i)];
    if (!a.includes('=') && takesValue.has(a)) i++;
  }
  return [args, []];
}

/** `--memory-swap -1` → `--memory-swap=-1` (parseArgs would take the -1 for an option). */
function joinOptionValues(args: string[], options: OptionSpec): string[] {
  const longOf = new Map<string, string>();
  for (const [long, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    longOf.set(`--${long}`, long);
    if (o.short) longOf.set(`-${o.short}`, long);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const long = longOf.get(a);
    if (long !== undefined && i + 1 < args.length) out.push(`--${long}=${args[++i]}`);
    else out.push(a);
  }
  return out;
}

export function parseVerbArgs(verb: Verb, args: string[]): { values: Values; positionals: string[] } {
  let mine = args;
  let rest: string[] = [];
  if (verb.stopAtPositional) [mine, rest] = splitAtCommand(args, verb.options);
  mine = joinOptionValues(mine, verb.options);
  try {
    const { values, positionals } = parseArgs({
      args: mine,
      options: { ...verb.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Values, positionals: [...positionals, ...rest] };
  } catch (e) {
    throw new InvalidConfigError(`${verb.name}: ${(e as Error).message.replace(/\. To specify a positional.*$/s, '')}`);
  }
}

export const list = (v: Values[string]): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
export const str = (v: Values[string]): string | undefined => (v === undefined ? undefined : String(Array.isArray(v) ? v.at(-1) : v));

export function int(v: Values[string], what: string): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new InvalidConfigError(`${what}: "${s}" is not an integer`);
  return Number(s);
}
