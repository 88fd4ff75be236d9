/**
 * Requests Node's HTTP parser refuses, on every HTTP listener of a gateway started on
 * config.example.yaml (OTLP/HTTP, health check, metrics, status page): a 64 KiB request line gets
 * 414, 64 KiB of headers 431 and a malformed request 400, each with a short body and the
 * connection closed by the server, never reset, also while the client is still sending; the
 * listener goes on serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sendRaw, startGateway, type RawExchange, type RunningGateway } from '../helpers.js';

const longLine = `GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`;
const longHeaders = `POST /v1/logs HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 64 }, (_, i) => `x-h${i}: ${'b'.repeat(1000)}\r\n`).join('')}\r\n`;

/** The status line, headers and body of an HTTP/1.1 answer. */
function parse(r: RawExchange): { status: string; headers: string; body: string } {
  const [head = '', body = ''] = r.response.split('\r\n\r\n');
  const [status = '', ...headers] = head.split('\r\n');
  return { status, headers: headers.join('\n').toLowerCase(), body };
}

function refused(r: RawExchange, status: string, body: RegExp): void {
  assert.equal(r.error, undefined, `the connection was reset: ${r.error}`);
  const a = parse(r);
  assert.equal(a.status, status);
  assert.match(a.headers, /^connection: close$/m);
  assert.match(a.headers, /^content-type: text\/plain; charset=utf-8$/m);
  assert.match(a.body, body);
  assert.ok(a.body.length < 200, 'a short body');
}

describe('HTTP requests the parser refuses, on every listener', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.stop());

  for (const listener of ['http', 'health', 'metrics', 'status'] as const) {
    it(`${listener}: 414 for a 64 KiB request line, 431 for 64 KiB of headers, 400 for garbage, without a reset`, async () => {
      const port = gw.ports[listener];
      // The client goes on sending (200 ms of more URL or header bytes) after the answer.
      refused(await sendRaw(port, longLine.slice(0, 40 * 1024), 'a'.repeat(1024), 40), 'HTTP/1.1 414 URI Too Long', /^the request line is longer than 16384 bytes\n$/);
      refused(await sendRaw(port, longLine), 'HTTP/1.1 414 URI Too Long', /request line/);
      refused(await sendRaw(port, longHeaders, `x-more: ${'c'.repeat(1000)}\r\n`, 40), 'HTTP/1.1 431 Request Header Fields Too Large', /^the request line and headers are longer than 16384 bytes\n$/);
      refused(await sendRaw(port, 'NOT HTTP AT ALL\r\n\r\n'), 'HTTP/1.1 400 Bad Request', /^malformed HTTP request \(HPE_/);
    });
  }

  it('goes on serving on every listener', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${gw.ports.health}/`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${gw.ports.status}/`)).status, 200);
    const r = await fetch(`http://127.0.0.1:${gw.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs":[]}' });
    assert.equal(r.status, 200);
  });
});
