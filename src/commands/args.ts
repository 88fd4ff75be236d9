/**
 * Flags of the subcommands (`schema`, `rules test`, `tail`): parsed strictly with `node:util`
 * `parseArgs`; a usage error prints `otelytics <command>: <message>` and the usage line on stderr
 * and exits 2, `--help` prints the usage line on stdout and exits 0.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Prints a usage error for `command`; returns its exit code, 2. */
export function usageError(command: string, usage: string, message: string): number {
  process.stderr.write(`otelytics ${command}: ${message}\nusage: ${usage}\n`);
  return 2;
}

/**
 * The flag values of `argv` (`options` must declare `help`), or the exit code when the command has
 * nothing more to do: 2 after a usage error, 0 after `--help`.
 */
export function commandArgs<O extends Options>(command: string, usage: string, argv: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O }>>['values'] | number {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (err) {
    return usageError(command, usage, errorMessage(err));
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(`usage: ${usage}\n`);
    return 0;
  }
  return values;
}
