/** The config errors a YAML text gets, for config tests. */
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseConfigText } from '../../src/config/sources.js';
import { ConfigErrors } from '../../src/errors.js';
import { defaultRegistry } from '../../src/registry.js';

const registry = defaultRegistry();

/** The messages of every config error `yaml` gets (each starts with its path); [] when it is valid. */
export function errorsOf(yaml: string): string[] {
  try {
    resolveConfig(parseConfigText(yaml, 'test.yaml'), registry);
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.message);
  }
  return [];
}
