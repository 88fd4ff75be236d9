/**
 * What a protocol of the `otlp` receiver is given to secure its listener, and what both transports
 * share to say who sent a request:
 * - `tls`: the listener's certificate (src/tls/server.ts), reloaded while it runs;
 * - `authenticator`: the extension named by `auth::authenticator` (src/auth/server.ts);
 * - `failures`: counts and logs refused requests.
 * The client of a request ({@link clientInfo}): the authenticator's attributes, with the verified
 * client certificate's subject CN as `subject` when the authenticator gives none (mutual TLS), and
 * the headers or metadata with `include_metadata`.
 */
import type { AuthFailures, ServerAuthenticator } from '../../src/auth/server.js';
import type { ClientInfo } from '../../src/component.js';
import type { ServerTlsSource } from '../../src/tls/server.js';

export interface ProtocolSecurity {
  tls?: ServerTlsSource;
  authenticator?: ServerAuthenticator;
  failures?: AuthFailures;
}

/** google.rpc.Code UNAUTHENTICATED (google/rpc/code.proto). */
export const RPC_UNAUTHENTICATED = 16;

/**
 * The client of one request; undefined when nothing is known of it.
 *
 * @param auth what the authenticator said (undefined without one; empty when it knows no identity).
 * @param certificateCn the verified client certificate's subject CN, with mutual TLS.
 * @param metadata the headers or metadata, with `include_metadata`.
 */
export function clientInfo(
  auth: Readonly<Record<string, string>> | undefined,
  certificateCn: string | undefined,
  metadata: Readonly<Record<string, readonly string[]>> | undefined,
): ClientInfo | undefined {
  let attrs = auth;
  if (certificateCn !== undefined && attrs?.subject === undefined) attrs = { ...attrs, subject: certificateCn };
  if (attrs !== undefined && Object.keys(attrs).length === 0) attrs = undefined;
  if (attrs === undefined && metadata === undefined) return undefined;
  const info: { auth?: Readonly<Record<string, string>>; metadata?: Readonly<Record<string, readonly string[]>> } = {};
  if (attrs !== undefined) info.auth = attrs;
  if (metadata !== undefined) info.metadata = metadata;
  return info;
}
