/**
 * TLS of the gateway's listeners (the OTLP receiver's HTTP and gRPC servers, `health_check`, the
 * status page, the metrics endpoint), configured as the collector's `configtls.ServerConfig`:
 *
 * ```yaml
 * tls:
 *   cert_file: /certs/server.pem     # or cert_pem: inline PEM
 *   key_file: /certs/server.key      # or key_pem
 *   client_ca_file: /certs/ca.pem    # mutual TLS: only clients with a certificate it signed
 *   min_version: "1.2"               # default
 *   reload_interval: 1m              # certificates replaced on disk are used without a restart
 * ```
 *
 * What this module gives: the schema ({@link tlsServerSchema}, with defaults and descriptions),
 * {@link loadServerTls}, which reads and checks the files at start-up and fails with the option's
 * config path (`protocols::http::tls::key_file: /certs/server.key is not the private key of
 * cert_file /certs/server.pem`), and {@link ServerTlsSource}, which re-reads the files while the
 * listener runs and hands on new options when they changed and are usable (a listener applies
 * them with `tls.Server.setSecureContext`, so new connections get the new certificate and open
 * ones keep theirs). Files that cannot be used at a reload are logged and the previous ones kept.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { duration, z } from '../config/schema.js';
import { errorMessage, SettingError } from '../errors.js';

/** TLS protocol versions as the collector names them (`configtls`'s `min_version` and `max_version`). */
export const TLS_VERSIONS = ['1.0', '1.1', '1.2', '1.3'] as const;
export type TlsVersionName = (typeof TLS_VERSIONS)[number];

/** The collector's default `min_version` (configtls: TLS 1.2). */
export const DEFAULT_MIN_TLS_VERSION: TlsVersionName = '1.2';

/** How often `client_ca_file` is checked with `reload_client_ca_file: true` and no `reload_interval`, milliseconds. */
export const CLIENT_CA_CHECK_MILLIS = 5000;

const NODE_VERSION: Record<TlsVersionName, tls.SecureVersion> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/**
 * A TLS version: "1.0" to "1.3". A YAML number (`min_version: 1.2`, read as 1.2; `1.0` is read as
 * 1) is taken as the version it spells, as the collector's config decoder does.
 */
const tlsVersion = z.preprocess(
  (v) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toFixed(1) : String(v)) : v),
  z.enum(TLS_VERSIONS, { error: (issue) => `must be one of "1.0", "1.1", "1.2", "1.3", got ${JSON.stringify(issue.input)}` }),
);

const path = z.string().min(1, { message: 'must be a non-empty path' });

export const tlsServerSchema = z
  .strictObject({
    cert_file: path.optional().describe("PEM file of the server's certificate (chain: the server's first). One of cert_file or cert_pem is required."),
    cert_pem: z.string().min(1).optional().describe("The server's certificate (chain) as inline PEM, instead of cert_file."),
    key_file: path.optional().describe('PEM file of the unencrypted private key of the certificate. One of key_file or key_pem is required.'),
    key_pem: z.string().min(1).optional().describe('The private key as inline PEM, instead of key_file. Set it from the environment (${env:...}), not in the file.'),
    client_ca_file: path
      .optional()
      .describe('PEM file of the CA(s) that sign client certificates: set, every client must present a certificate signed by one of them (mutual TLS); the handshake of a client without one fails. Omitted: no client certificate is asked for.'),
    reload_client_ca_file: z
      .boolean()
      .default(false)
      .describe(`true: client_ca_file is read again when it changes (checked every reload_interval, or every ${CLIENT_CA_CHECK_MILLIS / 1000}s when reload_interval is 0). Default false.`),
    min_version: tlsVersion.default(DEFAULT_MIN_TLS_VERSION).describe('Lowest TLS version accepted: "1.0", "1.1", "1.2" or "1.3". Default "1.2".'),
    max_version: tlsVersion.optional().describe('Highest TLS version accepted. Omitted: the highest this build of Node.js knows (1.3).'),
    reload_interval: duration('0').describe(
      'How often the certificate and key files are read again; a changed pair that is usable is served to new connections (open connections keep theirs); one that is not is logged and the previous pair kept. 0: never. Default 0.',
    ),
  })
  .superRefine((c, ctx) => {
    const pair = (file: 'cert_file' | 'key_file', pem: 'cert_pem' | 'key_pem', what: string) => {
      if (c[file] !== undefined && c[pem] !== undefined) ctx.addIssue({ code: 'custom', path: [pem], message: `give ${what} once: ${file} or ${pem}, not both` });
      else if (c[file] === undefined && c[pem] === undefined) ctx.addIssue({ code: 'custom', path: [file], message: `is required: the ${what} (${file}, or inline ${pem})` });
    };
    pair('cert_file', 'cert_pem', "server's certificate");
    pair('key_file', 'key_pem', "certificate's private key");
    if (c.max_version !== undefined && TLS_VERSIONS.indexOf(c.max_version) < TLS_VERSIONS.indexOf(c.min_version)) {
      ctx.addIssue({ code: 'custom', path: ['max_version'], message: `"${c.max_version}" is below min_version "${c.min_version}"` });
    }
  });

export type TlsServerConfig = z.infer<typeof tlsServerSchema>;

/** What a listener needs: options for `https.createServer`, `http2.createSecureServer` or `setSecureContext`. */
export interface ServerTlsMaterial {
  /** Options of `tls.createSecureContext`: `cert`, `key`, `ca` (client CAs), `minVersion`, `maxVersion`. */
  context: tls.SecureContextOptions;
  /** Whether clients must present a certificate signed by `client_ca_file` (mutual TLS). */
  mutual: boolean;
  /** The server certificate's subject CN, SHA-256 fingerprint and end of validity, for logs. */
  certificate: { subject: string; fingerprint256: string; validTo: string };
}

/** The bytes of a file named by the option `key` (`…::tls::cert_file`). */
function readFile(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SettingError(key, `cannot read ${file}: ${e.code ?? e.message}`, { cause: err });
  }
}

/** The certificates of a PEM text; throws naming `key` and `source` when there is none or one is broken. */
function certificates(key: string, pem: Buffer, source: string): crypto.X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new SettingError(key, `${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((b, i) => {
    try {
      return new crypto.X509Certificate(b);
    } catch (err) {
      throw new SettingError(key, `certificate ${i + 1} of ${source} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
  });
}

/** The private key of a PEM text; throws naming `key` and `source` when there is none or it is encrypted. */
function privateKey(key: string, pem: Buffer, source: string): crypto.KeyObject {
  const text = pem.toString('latin1');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw new SettingError(key, `${source} is encrypted; give the key unencrypted (there is no option for a key password)`);
  }
  try {
    return crypto.createPrivateKey(pem);
  } catch (err) {
    throw new SettingError(key, `${source} holds no usable PEM private key (-----BEGIN PRIVATE KEY-----): ${errorMessage(err)}`, { cause: err });
  }
}

/** The subject's CN of a certificate, else its whole subject. */
export function subjectCommonName(cert: crypto.X509Certificate): string {
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  return cn ?? cert.subject.replace(/\n/g, ', ');
}

/** The bytes each TLS input was read from, to tell when a reload finds them changed. */
interface Inputs {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

/** The inputs of `cfg`, read from their files; `keep`'s certificate and key, or client CAs, when those are not to be read. */
function readInputs(cfg: TlsServerConfig, at: string, keep?: { inputs: Inputs; certs: boolean; ca: boolean }): Inputs {
  const certs = keep === undefined || keep.certs;
  const ca = keep === undefined || keep.ca;
  return {
    cert: !certs ? keep!.inputs.cert : cfg.cert_pem !== undefined ? Buffer.from(cfg.cert_pem) : readFile(`${at}::cert_file`, cfg.cert_file!),
    key: !certs ? keep!.inputs.key : cfg.key_pem !== undefined ? Buffer.from(cfg.key_pem) : readFile(`${at}::key_file`, cfg.key_file!),
    ca: !ca ? keep!.inputs.ca : cfg.client_ca_file !== undefined ? readFile(`${at}::client_ca_file`, cfg.client_ca_file) : undefined,
  };
}

function material(cfg: TlsServerConfig, at: string, inputs: Inputs): ServerTlsMaterial {
  const certKey = cfg.cert_pem !== undefined ? `${at}::cert_pem` : `${at}::cert_file`;
  const keyKey = cfg.key_pem !== undefined ? `${at}::key_pem` : `${at}::key_file`;
  const certSource = cfg.cert_file ?? 'the inline PEM';
  const keySource = cfg.key_file ?? 'the inline PEM';
  const [leaf] = certificates(certKey, inputs.cert, certSource);
  const key = privateKey(keyKey, inputs.key, keySource);
  if (!leaf!.checkPrivateKey(key)) throw new SettingError(keyKey, `${keySource} is not the private key of the certificate in ${certSource} (the first certificate is the server's)`);
  if (inputs.ca) certificates(`${at}::client_ca_file`, inputs.ca, cfg.client_ca_file!);
  const context: tls.SecureContextOptions = { cert: inputs.cert, key: inputs.key, minVersion: NODE_VERSION[cfg.min_version] };
  if (cfg.max_version !== undefined) context.maxVersion = NODE_VERSION[cfg.max_version];
  if (inputs.ca) context.ca = inputs.ca;
  try {
    tls.createSecureContext(context);
  } catch (err) {
    throw new SettingError(at, `the certificate and key cannot be used: ${errorMessage(err)}`, { cause: err });
  }
  return { context, mutual: inputs.ca !== undefined, certificate: { subject: subjectCommonName(leaf!), fingerprint256: leaf!.fingerprint256, validTo: leaf!.validTo } };
}

/**
 * Reads and checks a `tls` section once: the certificate (chain) and key (files or inline PEM),
 * the client CAs, the versions.
 *
 * @param at the section's config path within its component, e.g. `protocols::http::tls`; errors
 *   name the option under it.
 * @throws SettingError `<at>::cert_file: cannot read /x.pem: ENOENT`, `... holds no PEM
 *   certificate`, `<at>::key_file: ... is encrypted`, `... is not the private key of the
 *   certificate in ...`, `<at>::client_ca_file: ... holds no PEM certificate`.
 */
export function loadServerTls(cfg: TlsServerConfig, at: string): ServerTlsMaterial {
  return material(cfg, at, readInputs(cfg, at));
}

/**
 * A `tls` section while its listener runs: {@link current} is what to serve now; with
 * `reload_interval` (and, for the client CAs, `reload_client_ca_file`) the files are read again
 * on that interval, and when their bytes changed and are usable the listeners given to
 * {@link watch} get the new material. Unusable files at a reload are logged at warn level (once
 * per change) and the previous material is kept.
 */
export class ServerTlsSource {
  private inputs: Inputs;
  private material: ServerTlsMaterial;
  private timer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<(m: ServerTlsMaterial) => void>();
  /** The bytes of the last files that could not be used, so a broken file is logged once. */
  private lastBad: string | undefined;

  /**
   * @param at the section's config path within its component (`protocols::grpc::tls`), for errors and logs.
   * @throws SettingError as {@link loadServerTls}.
   */
  constructor(
    private readonly cfg: TlsServerConfig,
    private readonly at: string,
    private readonly logger: Logger,
  ) {
    this.inputs = readInputs(cfg, at);
    this.material = material(cfg, at, this.inputs);
    this.warnIfExpired();
  }

  /** What to serve now. */
  get current(): ServerTlsMaterial {
    return this.material;
  }

  /**
   * Calls `onChange` with new material after each reload that changed it, until `stop()`. Starts
   * the reload timer with the first watcher (none when nothing is to be reloaded).
   */
  watch(onChange: (m: ServerTlsMaterial) => void): void {
    this.watchers.add(onChange);
    if (this.timer !== undefined) return;
    const certs = this.cfg.reload_interval > 0 && (this.cfg.cert_file !== undefined || this.cfg.key_file !== undefined);
    const ca = this.cfg.reload_client_ca_file && this.cfg.client_ca_file !== undefined;
    if (!certs && !ca) return;
    const every = this.cfg.reload_interval > 0 ? this.cfg.reload_interval : CLIENT_CA_CHECK_MILLIS;
    this.timer = setInterval(() => this.reload(certs, ca), every);
    this.timer.unref();
  }

  /** Stops reloading. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watchers.clear();
  }

  /** Reads the files again now; returns whether the served material changed. */
  reload(certs = true, ca = true): boolean {
    let next: Inputs;
    try {
      next = readInputs(this.cfg, this.at, { inputs: this.inputs, certs, ca });
    } catch (err) {
      this.bad(errorMessage(err), errorMessage(err));
      return false;
    }
    if (next.cert.equals(this.inputs.cert) && next.key.equals(this.inputs.key) && (next.ca === undefined || (this.inputs.ca !== undefined && next.ca.equals(this.inputs.ca)))) return false;
    let m: ServerTlsMaterial;
    try {
      m = material(this.cfg, this.at, next);
    } catch (err) {
      // A certificate and its key are seldom replaced in one step: the half-replaced pair is kept
      // out, and taken at a later check once both files match.
      const fingerprint = crypto.createHash('sha256').update(next.cert).update(next.key).update(next.ca ?? '').digest('hex');
      this.bad(fingerprint, errorMessage(err));
      return false;
    }
    this.inputs = next;
    this.material = m;
    this.lastBad = undefined;
    this.logger.info({ tls: this.at, subject: m.certificate.subject, sha256: m.certificate.fingerprint256, valid_to: m.certificate.validTo, mutual: m.mutual }, 'TLS certificate reloaded');
    this.warnIfExpired();
    for (const w of this.watchers) w(m);
    return true;
  }

  private bad(what: string, message: string): void {
    if (this.lastBad === what) return;
    this.lastBad = what;
    this.logger.warn({ tls: this.at, err: message }, 'TLS files changed but cannot be used; serving the previous certificate');
  }

  private warnIfExpired(): void {
    const end = Date.parse(this.material.certificate.validTo);
    if (Number.isFinite(end) && end < Date.now()) {
      this.logger.warn({ tls: this.at, subject: this.material.certificate.subject, valid_to: this.material.certificate.validTo }, 'the TLS certificate has expired; clients that check it will refuse the connection');
    }
  }
}

/** Whether `host` (of an endpoint) is a loopback address: `localhost`, `127.0.0.0/8`, `::1`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The subject CN of a peer certificate (the first when it has several), else undefined. */
export function certificateCommonName(cert: tls.PeerCertificate | undefined): string | undefined {
  const cn = cert?.subject?.CN as string | string[] | undefined;
  return typeof cn === 'string' ? cn || undefined : Array.isArray(cn) && cn.length > 0 ? cn[0] || undefined : undefined;
}

/** The verified client certificate's subject CN on a TLS socket with mutual TLS, else undefined. */
export function peerCommonName(socket: tls.TLSSocket): string | undefined {
  return socket.authorized ? certificateCommonName(socket.getPeerCertificate()) : undefined;
}

/**
 * An HTTP/1.1 server for `handler`, over TLS when `source` is given: https with its material
 * (mutual TLS when it has client CAs: Node refuses a client without a certificate they signed),
 * following its reloads with `setSecureContext`. Stop the source when the server closes.
 */
export function createHttpServer(source: ServerTlsSource | undefined, options: http.ServerOptions, handler: http.RequestListener): http.Server {
  if (source === undefined) return http.createServer(options, handler);
  const m = source.current;
  const server = https.createServer({ ...options, ...m.context, requestCert: m.mutual, rejectUnauthorized: m.mutual }, handler);
  source.watch((next) => server.setSecureContext(next.context));
  return server as unknown as http.Server;
}
