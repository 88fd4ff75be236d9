/**
 * Worker thread of the rule playground: runs {@link runPlayground} for each message
 * `{ id, request }` and answers `{ id, response }`. Runs apart from the gateway's event loop, so the
 * status extension can stop it when a request takes too long.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../errors.js';
import { runPlayground, type PlaygroundRequest, type PlaygroundResponse } from './playground.js';

parentPort!.on('message', (msg: { id: number; request: PlaygroundRequest }) => {
  let response: PlaygroundResponse;
  try {
    response = runPlayground(msg.request);
  } catch (err) {
    response = { ok: false, errors: { input: [{ path: '', message: `the dry run failed: ${errorMessage(err)}` }], analytics: [], privacy: [] } };
  }
  parentPort!.postMessage({ id: msg.id, response });
});
