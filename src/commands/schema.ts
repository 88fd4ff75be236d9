/**
 * `otelytics schema [--output FILE]`: prints the JSON Schema (draft-07) of the whole config, every
 * registered component included (src/config/json_schema.ts), for yaml-language-server:
 * `# yaml-language-server: $schema=./otelytics.schema.json` on the first line of config.yaml.
 */
import fs from 'node:fs';
import { configJsonSchema } from '../config/json_schema.js';
import { errorMessage } from '../errors.js';
import { defaultRegistry } from '../registry.js';
import { commandArgs } from './args.js';
import { exitQuietlyOnClosedPipe } from './format.js';

export const SCHEMA_USAGE = 'otelytics schema [--output FILE]      print the JSON Schema of the config (for yaml-language-server)';

/** Runs the command; resolves with the exit code. */
export async function schemaCommand(argv: string[], version: string): Promise<number> {
  exitQuietlyOnClosedPipe();
  const values = commandArgs('schema', SCHEMA_USAGE, argv, { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } });
  if (typeof values === 'number') return values;
  const text = JSON.stringify(configJsonSchema(defaultRegistry(), version), null, 2) + '\n';
  if (values.output) {
    try {
      fs.writeFileSync(values.output, text);
    } catch (err) {
      process.stderr.write(`otelytics schema: cannot write ${values.output}: ${errorMessage(err)}\n`);
      return 1;
    }
    return 0;
  }
  await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
  return 0;
}
