/**
 * The load generator's OTLP/HTTP client against node's HTTP server: what it sends, the answers it
 * reads (content-length, chunked, connection: close), its connection limit and its errors.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { httpTraceSender } from '../../bench/sender.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: Socket;
}

/** A server that records each request and answers it with `answer`. */
async function server(answer: (seen: Seen, res: http.ServerResponse) => void): Promise<{ port: number; seen: Seen[]; sockets: Set<Socket>; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const srv = http.createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), socket: req.socket };
      seen.push(s);
      answer(s, res);
    });
  });
  srv.on('connection', (s: Socket) => sockets.add(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    seen,
    sockets,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

describe('load generator sender', () => {
  const closers: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('POSTs the body to /v1/traces with its headers and reads the status of each answer on one kept-alive connection', async () => {
    let n = 0;
    const srv = await server((_, res) => {
      res.writeHead(++n === 2 ? 503 : 200, { 'content-type': 'application/x-protobuf' });
      res.end(Buffer.from([0x0a, 0x00]));
    });
    closers.push(srv.close);
    const sender = httpTraceSender(srv.port, 4, { authorization: 'Bearer t0k3n' });
    closers.push(sender.close);
    const body = Buffer.alloc(300_000, 7);
    assert.deepEqual([await sender.send(body), await sender.send(Buffer.from('x')), await sender.send(body)], [200, 503, 200]);
    assert.equal(srv.seen.length, 3);
    assert.equal(srv.seen[0]!.method, 'POST');
    assert.equal(srv.seen[0]!.url, '/v1/traces');
    assert.equal(srv.seen[0]!.headers['content-type'], 'application/x-protobuf');
    assert.equal(srv.seen[0]!.headers.authorization, 'Bearer t0k3n');
    assert.ok(srv.seen[0]!.body.equals(body));
    assert.equal(srv.seen[1]!.body.toString(), 'x');
    assert.equal(srv.sockets.size, 1, 'one connection for requests one after the other');
  });

  it('reads chunked answers and opens a new connection after connection: close', async () => {
    let n = 0;
    const srv = await server((_, res) => {
      n++;
      if (n === 1) {
        // No content-length: node sends it chunked, in two chunks.
        res.writeHead(200);
        res.write('abc0\r\n');
        setTimeout(() => res.end('tail'), 20);
      } else if (n === 2) {
        res.writeHead(429, { connection: 'close', 'content-length': 0 });
        res.end();
      } else {
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      }
    });
    closers.push(srv.close);
    const sender = httpTraceSender(srv.port, 1);
    closers.push(sender.close);
    assert.equal(await sender.send(Buffer.from('a')), 200);
    assert.equal(await sender.send(Buffer.from('b')), 429);
    assert.equal(await sender.send(Buffer.from('c')), 200);
    assert.equal(srv.sockets.size, 2);
    assert.equal(srv.seen[2]!.socket === srv.seen[1]!.socket, false);
  });

  it('keeps at most `concurrency` connections and answers every request waiting for one', async () => {
    const srv = await server((_, res) => setTimeout(() => res.writeHead(200, { 'content-length': 0 }).end(), 10));
    closers.push(srv.close);
    const sender = httpTraceSender(srv.port, 2);
    closers.push(sender.close);
    const statuses = await Promise.all(Array.from({ length: 7 }, (_, i) => sender.send(Buffer.from(String(i)))));
    assert.deepEqual(statuses, Array(7).fill(200));
    assert.equal(srv.sockets.size, 2);
    assert.deepEqual(srv.seen.map((s) => s.body.toString()).sort(), ['0', '1', '2', '3', '4', '5', '6']);
  });

  it('rejects a request whose connection closes before the answer, and goes on with a new connection', async () => {
    let n = 0;
    const srv = await server((s, res) => {
      if (++n === 1) s.socket.destroy();
      else res.writeHead(200, { 'content-length': 0 }).end();
    });
    closers.push(srv.close);
    const sender = httpTraceSender(srv.port, 1);
    closers.push(sender.close);
    await assert.rejects(sender.send(Buffer.from('a')), /closed before the answer/);
    assert.equal(await sender.send(Buffer.from('b')), 200);
  });

  it('forgets an idle connection the server resets, and sends the next request on a new one', async () => {
    const srv = await server((_, res) => res.writeHead(200, { 'content-length': 0 }).end());
    closers.push(srv.close);
    const sender = httpTraceSender(srv.port, 1);
    closers.push(sender.close);
    assert.equal(await sender.send(Buffer.from('a')), 200);
    for (const s of srv.sockets) s.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await sender.send(Buffer.from('b')), 200);
    assert.equal(srv.sockets.size, 2);
  });

  it('rejects when nothing listens', async () => {
    const srv = await server(() => {});
    const port = srv.port;
    await srv.close();
    const sender = httpTraceSender(port, 1);
    closers.push(sender.close);
    await assert.rejects(sender.send(Buffer.from('a')), /ECONNREFUSED/);
  });
});
