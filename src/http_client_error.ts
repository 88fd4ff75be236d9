/**
 * The answer of every HTTP/1.1 listener of the gateway (the `otlp` receiver, `health_check`, the
 * status page, the metrics endpoint) to a request Node's HTTP parser refuses before any handler
 * runs (the server's `clientError` event):
 * - request line and headers together longer than Node's `maxHeaderSize` (16 KiB by default;
 *   `HPE_HEADER_OVERFLOW`): 414 URI Too Long when the bytes in hand show that the request line
 *   alone passes the limit (RFC 9110, §15.5.15), else 431 Request Header Fields Too Large
 *   (RFC 6585, §5), as Go's net/http, and so the OpenTelemetry Collector, answers;
 * - chunk extensions too large: 413; a request not sent within `headersTimeout` or
 *   `requestTimeout`: 408; any other malformed request: 400.
 * The answer is a short `text/plain` body with `Connection: close`. The connection is then closed
 * for writing only, and what the client still sends is read and discarded until it closes, stops
 * sending for {@link LINGER_IDLE_MILLIS}, or has been given {@link LINGER_MILLIS} or
 * {@link LINGER_BYTES}; then the socket is destroyed. Closing a socket with unread data makes the
 * kernel reset the connection, and a client still sending its request would see the reset instead
 * of the answer (Node's and fastify's own handlers destroy the socket at once).
 */
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/** Longest a refused connection is read from and discarded before it is destroyed, milliseconds. */
export const LINGER_MILLIS = 2000;
/** A refused connection on which nothing arrives for this long is destroyed, milliseconds. */
export const LINGER_IDLE_MILLIS = 500;
/** Most bytes read and discarded from a refused connection before it is destroyed. */
export const LINGER_BYTES = 1024 * 1024;

/** What Node's HTTP parser adds to the errors it emits. */
interface ParserError extends Error {
  code?: string;
  /** The bytes being parsed when the error arose. */
  rawPacket?: Buffer;
}

/** A refused connection being read from: `socket.bytesRead` when it was answered, and its idle timer. */
interface Lingering {
  bytesRead: number;
  idle: NodeJS.Timeout | undefined;
}
const answered = new WeakMap<Duplex, Lingering>();

/** Counts what arrived on a refused connection: destroys it past {@link LINGER_BYTES}, else restarts its idle timer. */
function arrived(socket: Duplex, l: Lingering): void {
  if ((socket as net.Socket).bytesRead - l.bytesRead > LINGER_BYTES) socket.destroy();
  else l.idle?.refresh();
}

/** Request methods, as a request line starts (RFC 9110, §9: a token; these are the ones in use). */
const REQUEST_LINE_START = /^[A-Z]{3,10} /;

/**
 * Whether the bytes in hand show that the request line alone passes `maxHeaderSize`: the chunk
 * being parsed starts with a request line that has no end within the limit.
 */
function requestLineTooLong(raw: Buffer | undefined, maxHeaderSize: number): boolean {
  if (!raw || !REQUEST_LINE_START.test(raw.toString('latin1', 0, 11))) return false;
  const end = raw.indexOf(10);
  return end < 0 ? raw.length >= maxHeaderSize : end > maxHeaderSize;
}

/** Status, reason phrase and body of the answer to `err`. */
function refusal(err: ParserError, maxHeaderSize: number): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineTooLong(err.rawPacket, maxHeaderSize)
        ? [414, 'URI Too Long', `the request line is longer than ${maxHeaderSize} bytes`]
        : [431, 'Request Header Fields Too Large', `the request line and headers are longer than ${maxHeaderSize} bytes`];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'Payload Too Large', 'the chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'Request Timeout', 'the request did not arrive in time'];
    default:
      return [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
  }
}

/**
 * Answers a request Node's parser refused (see the module's description). For a server's
 * `clientError` event, or fastify's `clientErrorHandler`; called again for the same socket as
 * more bytes arrive, it only counts them against {@link LINGER_BYTES}.
 *
 * @param maxHeaderSize the server's limit on the request line and headers, bytes (Node's
 *   `http.maxHeaderSize` unless the server was given its own).
 */
export function answerClientError(err: Error, socket: Duplex, maxHeaderSize = http.maxHeaderSize): void {
  const seen = answered.get(socket);
  if (seen !== undefined) return arrived(socket, seen);
  const lingering: Lingering = { bytesRead: (socket as net.Socket).bytesRead ?? 0, idle: undefined };
  answered.set(socket, lingering);
  const e = err as ParserError;
  // A response already begun (pipelining, a timeout while answering) cannot be followed by another.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (e.code === 'ECONNRESET' || socket.destroyed || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, text] = refusal(e, maxHeaderSize);
  const body = `${text}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  const destroy = () => socket.destroy();
  const deadline = setTimeout(destroy, LINGER_MILLIS).unref();
  lingering.idle = setTimeout(destroy, LINGER_IDLE_MILLIS).unref();
  socket.once('close', () => {
    clearTimeout(deadline);
    clearTimeout(lingering.idle);
  });
  // Node's parser reads the socket either through 'data' or, consuming it natively, by calling
  // this handler again for each chunk.
  socket.on('data', () => arrived(socket, lingering));
  socket.resume();
}

/**
 * Makes `server` answer refused requests with {@link answerClientError}.
 *
 * @param maxHeaderSize the `maxHeaderSize` the server was created with, bytes; Node's default
 *   `http.maxHeaderSize` when it was given none.
 */
export function answerClientErrors(server: http.Server, maxHeaderSize = http.maxHeaderSize): void {
  server.on('clientError', (err: Error, socket: Duplex) => answerClientError(err, socket, maxHeaderSize));
}
