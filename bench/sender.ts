/**
 * The load generator's OTLP/HTTP client: protobuf trace bodies POSTed to `/v1/traces` over
 * HTTP/1.1 keep-alive connections, one request in flight per connection, at most `concurrency`
 * connections.
 *
 * It writes each request as a prepared head and the body in one corked write and reads the answer
 * with a minimal parser (status line, `content-length` or `transfer-encoding: chunked`), because
 * the client shares the cores with the system it measures in the several-cores case. At full load
 * (about 700 requests/s of 522 spans, 2 workers on 2 cores) node:http's client took 13–17% of a
 * core, undici's Pool 15%, and this one 8–12%. autocannon's client costs as little, but it is a
 * whole load tool (its own loop, latencies kept in whole milliseconds), where the benchmarks time
 * each request and pace an open loop themselves.
 *
 * Errors: a connection that fails or closes before its answer is complete rejects that request's
 * promise (and is not reused); an answer that is not HTTP/1.x rejects it too.
 */
import net from 'node:net';

export interface TraceSender {
  /** Resolves with the answer's status code. */
  send(body: Buffer): Promise<number>;
  /** Closes every connection; requests in flight reject. */
  close(): void;
}

/** Answers larger than this are not an OTLP export response: the connection is dropped. */
const MAX_ANSWER_BYTES = 1 << 20;

/**
 * Whether a chunked body starting at `at` is complete: chunk by chunk (hex size, CRLF, data, CRLF)
 * up to the last chunk (size 0) and the CRLF after it or after its trailer fields (RFC 9112 §7.1).
 */
function chunkedComplete(buf: Buffer, at: number): boolean {
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return false;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error('bad chunk size');
    if (size === 0) return buf.indexOf('\r\n\r\n', lineEnd) >= 0;
    at = lineEnd + 2 + size + 2;
    if (at > buf.length) return false;
  }
}

/** `headers`: sent with every request besides host, content-type and content-length (e.g. authorization). */
export function httpTraceSender(port: number, concurrency: number, headers: Record<string, string> = {}): TraceSender {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const heads = new Map<number, Buffer>();
  const headFor = (length: number): Buffer => {
    let head = heads.get(length);
    if (!head) {
      head = Buffer.from(`POST /v1/traces HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${extra}content-type: application/x-protobuf\r\ncontent-length: ${length}\r\n\r\n`, 'latin1');
      heads.set(length, head);
    }
    return head;
  };
  const idle: net.Socket[] = [];
  const open = new Set<net.Socket>();
  const waiting: Array<(s: net.Socket | Error) => void> = [];
  let closed = false;

  const connect = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      // An idle connection the server resets closes quietly ('close' below forgets it); during an
      // exchange, the exchange's own listener takes the error.
      socket.on('error', () => {});
      open.add(socket);
      socket.once('close', () => {
        open.delete(socket);
        const i = idle.indexOf(socket);
        if (i >= 0) idle.splice(i, 1);
      });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });

  const acquire = async (): Promise<net.Socket> => {
    if (closed) throw new Error('sender closed');
    const free = idle.pop();
    if (free) return free;
    if (open.size < concurrency) return connect();
    const next = await new Promise<net.Socket | Error>((r) => waiting.push(r));
    if (next instanceof Error) throw next;
    return next;
  };

  const release = (socket: net.Socket, reusable: boolean): void => {
    if (!reusable || closed) {
      open.delete(socket);
      socket.destroy();
      const waiter = waiting.shift();
      if (waiter) connect().then(waiter, waiter);
      return;
    }
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else idle.push(socket);
  };

  const exchange = (socket: net.Socket, body: Buffer): Promise<{ status: number; keepAlive: boolean }> =>
    new Promise((resolve, reject) => {
      let buf: Buffer | undefined;
      const done = (err: Error | undefined, answer?: { status: number; keepAlive: boolean }) => {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve(answer!);
      };
      const onError = (err: Error) => done(err);
      const onClose = () => done(new Error('connection closed before the answer'));
      const onData = (chunk: Buffer) => {
        buf = buf ? Buffer.concat([buf, chunk]) : chunk;
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) {
          if (buf.length > MAX_ANSWER_BYTES) done(new Error('answer head too large'));
          return;
        }
        const head = buf.toString('latin1', 0, headEnd).toLowerCase();
        if (!head.startsWith('http/1.')) return done(new Error(`not an HTTP/1.x answer: ${JSON.stringify(head.slice(0, 40))}`));
        const rest = buf.length - (headEnd + 4);
        const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
        let complete: boolean;
        try {
          complete = length ? rest >= Number(length[1]) : /\r\ntransfer-encoding:\s*chunked/.test(head) ? chunkedComplete(buf, headEnd + 4) : true;
        } catch (err) {
          return done(err as Error);
        }
        if (!complete) {
          if (buf.length > MAX_ANSWER_BYTES) done(new Error('answer too large'));
          return;
        }
        done(undefined, { status: Number(head.slice(9, 12)), keepAlive: !/\r\nconnection:\s*close/.test(head) });
      };
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.cork();
      socket.write(headFor(body.length));
      socket.write(body);
      socket.uncork();
    });

  return {
    send: async (body) => {
      const socket = await acquire();
      try {
        const { status, keepAlive } = await exchange(socket, body);
        release(socket, keepAlive);
        return status;
      } catch (err) {
        release(socket, false);
        throw err;
      }
    },
    close: () => {
      closed = true;
      for (const w of waiting.splice(0)) w(new Error('sender closed'));
      for (const s of open) s.destroy();
      idle.length = 0;
    },
  };
}
