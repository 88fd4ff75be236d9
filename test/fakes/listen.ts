/** The HTTP(S) plumbing of the stand-in servers: listen on 127.0.0.1, and close with every connection cut. */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface Listening {
  port: number;
  /** Destroys open connections (keep-alive ones included), then stops listening. */
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1:`port` (0: any free port) answering with `handle`; HTTPS with `tls`
 * (its certificate, key, and for mutual TLS `requestCert`, `ca`).
 */
export async function listenLocal(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void, port = 0, tls?: https.ServerOptions): Promise<Listening> {
  const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
