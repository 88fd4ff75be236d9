/**
 * Skips that show in the test runner's counts, and that CI never takes.
 *
 * Node's test runner counts a skipped `describe` under "suites" only, so a whole file of tests
 * skipped for a missing tool read "skipped 0" in the summary. `describeUnless` puts one skipped
 * test in the skipped suite's place, so the summary counts it. Under CI (`CI=true`) nothing is
 * skipped: CI has every tool these tests need, and a missing one fails the tests that need it.
 */
import { describe, it } from 'node:test';

/** The reason to skip, or false: always false under CI (`CI=true`), so that the test runs and fails. */
export function skipUnlessCi(reason: string | false | undefined): string | false {
  return process.env.CI === 'true' ? false : (reason ?? false);
}

/**
 * `describe(name, options, fn)`, or, when `skip` is a reason (and not under CI), a suite of one
 * skipped test that carries the reason. `options` are node:test's suite options.
 */
export function describeUnless(skip: string | false | undefined, name: string, options: { timeout?: number }, fn: () => void): void {
  const reason = skipUnlessCi(skip);
  if (reason) {
    describe(name, () => {
      it(`every test of "${name}"`, { skip: reason }, () => undefined);
    });
    return;
  }
  describe(name, options, fn);
}
