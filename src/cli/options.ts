// Command-line options in one place: `--name value`, `--name=value`, and flags without a value.
import { InvalidArgumentError } from '../errors';

export interface ParsedArgs<V extends string, F extends string> {
  positional: string[];
  values: Partial<Record<V, string>>;
  flags: Set<F>;
}

export function parseArgs<V extends string, F extends string = never>(
  args: readonly string[],
  spec: { values: readonly V[]; flags?: readonly F[]; usage: string; command?: string },
): ParsedArgs<V, F> {
  const positional: string[] = [];
  const values: Partial<Record<V, string>> = {};
  const flags = new Set<F>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [key, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if ((spec.flags as readonly string[] | undefined)?.includes(key)) {
      if (inline !== undefined) throw new InvalidArgumentError(`--${key} takes no value`);
      flags.add(key as F);
    } else if ((spec.values as readonly string[]).includes(key)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new InvalidArgumentError(`--${key} needs a value`);
      values[key as V] = value;
    } else {
      throw new InvalidArgumentError(
        `unknown option --${key}${spec.command ? ` for ${spec.command}` : ''}\n${spec.usage}`,
      );
    }
  }
  return { positional, values, flags };
}
