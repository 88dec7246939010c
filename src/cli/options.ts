// Command-line options in one place, on Node's util.parseArgs: `--name value`, `--name=value` and flags, checked
// strictly; a usage error is one line that names the problem and points to the command's --help.
import { parseArgs as parseNodeArgs } from 'node:util';

import { ensureError, invalidArgument, InvalidArgumentError } from '../errors';

/** A mistake in how a command was called: its message ends with a pointer to the command's own help. */
export class UsageError extends InvalidArgumentError {
  constructor(command: string, problem: string) {
    super(`${problem}\nsee icf ${command} --help`);
    this.name = 'UsageError';
  }
}

/**
 * A flag given a value it does not take, in the words the API uses for a bad parameter (invalidArgument: the flag,
 * what it takes, what came), then the pointer to the command's help.
 */
export function invalidOption(
  command: string,
  option: string,
  expected: string,
  received: string | undefined,
): UsageError {
  return new UsageError(command, invalidArgument(`--${option}`, expected, received).message);
}

export interface ParsedArgs<V extends string, F extends string> {
  positional: string[];
  values: Partial<Record<V, string>>;
  flags: Set<F>;
}

export interface ArgsSpec<V extends string, F extends string> {
  /** Options that take a value. */
  values: readonly V[];
  /** Options without a value. */
  flags?: readonly F[];
  /** The command as its help names it ("upload", "collect run"): usage errors point to `icf COMMAND --help`. */
  command: string;
}

/** Whether `args` ask for help (`--help` or `-h` before any `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

export function parseArgs<V extends string, F extends string = never>(
  args: readonly string[],
  spec: ArgsSpec<V, F>,
): ParsedArgs<V, F> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const name of spec.values) options[name] = { type: 'string' };
  for (const name of spec.flags ?? []) options[name] = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseNodeArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(spec.command, describeParseError(ensureError(error), spec.command));
  }
  const values: Partial<Record<V, string>> = {};
  const flags = new Set<F>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'string') values[name as V] = value;
    else if (value === true) flags.add(name as F);
  }
  return { positional: parsed.positionals, values, flags };
}

/** util.parseArgs' errors are paragraphs; ours name the option in a few words. */
function describeParseError(error: Error, command: string): string {
  const option = /'(-[^'\s]*)/.exec(error.message)?.[1] ?? '';
  switch ('code' in error ? error.code : undefined) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option} for ${command}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing|ambiguous/.test(error.message) ? `${option} needs a value` : `${option} takes no value`;
    default:
      return error.message;
  }
}
