/**
 * Runs playground requests in one worker thread (`playground_worker.ts`), one request at a time,
 * each within a time limit: a request that takes longer (a regular expression that backtracks
 * without end, say) gets its worker terminated and a clear error; the next request starts a new
 * worker. The gateway's own event loop never runs user-supplied rules.
 */
import { Worker } from 'node:worker_threads';
import type { PlaygroundRequest, PlaygroundResponse } from './playground.js';

export class PlaygroundTimeoutError extends Error {
  constructor(millis: number) {
    super(`the dry run took longer than ${millis} ms and was stopped (a regular expression that backtracks a lot?)`);
  }
}

export class PlaygroundRunner {
  private worker: Worker | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private nextId = 0;
  private closed = false;

  constructor(private readonly timeoutMillis: number) {}

  /** Starts the worker ahead of the first request (it loads the processors' code). */
  warm(): void {
    if (!this.closed) this.worker ??= this.spawn();
  }

  /** Runs one request after those before it. Rejects with PlaygroundTimeoutError, or when the worker fails. */
  run(request: PlaygroundRequest): Promise<PlaygroundResponse> {
    const p = this.tail.then(() => this.runOne(request));
    this.tail = p.catch(() => undefined);
    return p;
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./playground_worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 256 } });
    w.unref();
    w.on('error', () => undefined);
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
    });
    return w;
  }

  private runOne(request: PlaygroundRequest): Promise<PlaygroundResponse> {
    if (this.closed) return Promise.reject(new Error('the status extension is shutting down'));
    const w = (this.worker ??= this.spawn());
    const id = ++this.nextId;
    return new Promise<PlaygroundResponse>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const onMessage = (m: { id: number; response: PlaygroundResponse }) => {
        if (m.id !== id) return;
        done();
        resolve(m.response);
      };
      const onError = (err: Error) => {
        done();
        this.worker = undefined;
        reject(new Error(`the dry run failed: ${err.message}`));
      };
      const onExit = () => {
        done();
        reject(new Error('the dry run stopped unexpectedly'));
      };
      const timer = setTimeout(() => {
        done();
        this.worker = undefined;
        void w.terminate();
        reject(new PlaygroundTimeoutError(this.timeoutMillis));
      }, this.timeoutMillis);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage({ id, request });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
