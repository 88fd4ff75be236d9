/** Reading what an exporter's send refused or left to retry, for the SaaS contract tests. */
import assert from 'node:assert/strict';
import type { PartialFailure, RetryableError } from '../../src/errors.js';
import type { AnalyticsEvent } from '../../src/event.js';

/** The error `p` rejects with; fails the test when it resolves. */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the send to fail');
}

/** insert_id → reason of every event refused for good. */
export const rejectedIds = (err: PartialFailure) => new Map(err.rejected.flatMap((r) => (r.payload as { data: AnalyticsEvent[] }).data.map((e) => [e.insert_id, r.reason] as const)));

/** insert_ids of the events left to retry (none for an error that is not a partial failure). */
export const retriedIds = (err: PartialFailure | RetryableError) => ((err as PartialFailure).retry as { data: AnalyticsEvent[] } | undefined)?.data.map((e) => e.insert_id) ?? [];
