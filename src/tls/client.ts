/**
 * TLS of every connection the gateway opens to a destination (the exporters' `tls` sections), with
 * the keys and meanings of the collector's `configtls` client settings:
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `insecure` | false | plaintext where the protocol has a choice (gRPC, Kafka), but only without `ca_file`/`ca_pem`; HTTP clients follow the URL's scheme |
 * | `insecure_skip_verify` | false | TLS without checking the server's certificate (chain and name); logged as a warning at start |
 * | `ca_file` / `ca_pem` | the system roots | PEM CA certificates that verify the server; they replace the system roots unless `include_system_ca_certs_pool` |
 * | `include_system_ca_certs_pool` | false | trust the system roots as well as `ca_file`/`ca_pem` |
 * | `cert_file` + `key_file`, `cert_pem` + `key_pem` | none | client certificate (chain) and its unencrypted key, sent when the server asks for one (mutual TLS) |
 * | `server_name_override` | the host connected to | the name the server's certificate must be for, also sent as SNI; an IP address is only checked (SNI takes names) |
 * | `min_version` / `max_version` | `1.2` / Node's highest (1.3) | TLS versions allowed: `1.0`, `1.1`, `1.2`, `1.3` |
 * | `reload_interval` | 0 (never) | how often the files are read again, so that renewed certificates are used for new connections |
 *
 * {@link clientTlsSchema} is the zod schema (with its checks: a certificate needs its key, a file
 * and a PEM value of the same thing exclude each other, `max_version` ≥ `min_version`).
 * {@link ClientTls.load} reads and checks the PEM material at a component's start and turns it into
 * Node `tls` connection options; its errors start with the option's full path
 * (`exporters::otlp_http::tls::ca_file: cannot read /etc/ca.pem: ENOENT`). {@link ClientTlsAgent}
 * is an `https.Agent` using them, for node:https clients. {@link tlsProblem} reads a failed
 * connection and says which option to change.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { duration, nonEmptyString, z } from '../config/schema.js';
import { OtelyticsError } from '../errors.js';

/** TLS versions as the collector names them, and Node's names of them. */
export const TLS_VERSIONS = ['1.0', '1.1', '1.2', '1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];
const NODE_TLS_VERSION: Record<TlsVersion, tls.SecureVersion> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/**
 * The client TLS keys without `reload_interval` (for clients that read the files whenever they
 * connect anew). `insecure` is described by the component: what plaintext means for its protocol.
 */
export function clientTlsShape(insecure: string) {
  return {
    insecure: z.boolean().default(false).describe(insecure),
    insecure_skip_verify: z
      .boolean()
      .default(false)
      .describe('Use TLS but accept any server certificate, from any CA and for any name (for tests only; a warning is logged at start). Default false.'),
    ca_file: nonEmptyString().optional().describe('PEM file of the CA certificates that verify the server; they replace the system roots unless include_system_ca_certs_pool. Omitted: the system roots.'),
    ca_pem: nonEmptyString().optional().describe('The same as ca_file, given as PEM text (e.g. ${env:CA_PEM}). Not with ca_file.'),
    include_system_ca_certs_pool: z.boolean().default(false).describe('Trust the system roots as well as ca_file / ca_pem. Default false.'),
    cert_file: nonEmptyString().optional().describe('PEM client certificate (chain), sent when the server asks for one (mutual TLS); needs key_file or key_pem. Omitted: none.'),
    cert_pem: nonEmptyString().optional().describe('The same as cert_file, given as PEM text. Not with cert_file.'),
    key_file: nonEmptyString().optional().describe('Unencrypted PEM private key of the client certificate; needs cert_file or cert_pem. Omitted: none.'),
    key_pem: nonEmptyString().optional().describe('The same as key_file, given as PEM text (use ${env:VAR}). Not with key_file.'),
    server_name_override: nonEmptyString()
      .optional()
      .describe('Name the server\'s certificate must be for, instead of the host connected to; also sent as SNI. An IP address is checked against the certificate\'s IP addresses. Omitted: the host of the endpoint.'),
    min_version: z.enum(TLS_VERSIONS).default('1.2').describe('Lowest TLS version: 1.0, 1.1, 1.2 or 1.3 (1.0 and 1.1 are deprecated, and OpenSSL may refuse them). Default 1.2.'),
    max_version: z.enum(TLS_VERSIONS).optional().describe('Highest TLS version: 1.0, 1.1, 1.2 or 1.3. Omitted: the highest Node supports (1.3).'),
  };
}

/** `reload_interval`: how often the PEM files are read again (0: never). */
export const reloadIntervalOption = () =>
  duration('0').describe('How often ca_file, cert_file and key_file are read again; new connections use what was read (renewed certificates without a restart). 0: read once at start. Default 0.');

const shapeForTypes = z.strictObject({ ...clientTlsShape(''), reload_interval: reloadIntervalOption().optional() });
/** A parsed client `tls` section (`reload_interval` in milliseconds, when the component offers it). */
export type ClientTlsConfig = z.infer<typeof shapeForTypes>;

/** The checks of a client `tls` section that zod cannot express key by key; issues carry their key's path. */
export function checkClientTls(t: ClientTlsConfig, ctx: z.RefinementCtx): void {
  const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
  for (const [file, pem] of [['ca_file', 'ca_pem'], ['cert_file', 'cert_pem'], ['key_file', 'key_pem']] as const) {
    if (t[file] !== undefined && t[pem] !== undefined) issue(pem, `cannot be used with ${file}: give it one way`);
  }
  const cert = t.cert_file !== undefined ? 'cert_file' : t.cert_pem !== undefined ? 'cert_pem' : undefined;
  const key = t.key_file !== undefined ? 'key_file' : t.key_pem !== undefined ? 'key_pem' : undefined;
  if (cert && !key) issue(cert === 'cert_file' ? 'key_file' : 'key_pem', `is needed with ${cert}: the PEM private key of the client certificate`);
  if (key && !cert) issue(key === 'key_file' ? 'cert_file' : 'cert_pem', `is needed with ${key}: the PEM client certificate of the key`);
  if (t.max_version !== undefined && TLS_VERSIONS.indexOf(t.max_version) < TLS_VERSIONS.indexOf(t.min_version)) issue('max_version', `must not be below min_version (${t.min_version})`);
}

/**
 * The client `tls` schema with `reload_interval` and the checks of {@link checkClientTls}. Add
 * `.prefault({})` (always TLS-capable) or `.optional()` (omitted: no TLS, or the client's own).
 */
export function clientTlsSchema(insecure: string) {
  return z.strictObject({ ...clientTlsShape(insecure), reload_interval: reloadIntervalOption() }).superRefine(checkClientTls);
}

/**
 * Whether the section asks for plaintext: `insecure` without `ca_file`/`ca_pem`, as the collector's
 * `configtls` reads it (with a CA, `insecure` is ignored and TLS is used).
 */
export function wantsPlaintext(cfg: Pick<ClientTlsConfig, 'insecure' | 'ca_file' | 'ca_pem'>): boolean {
  return cfg.insecure && cfg.ca_file === undefined && cfg.ca_pem === undefined;
}

/**
 * Logs, at warn level, that `<at>::tls::insecure_skip_verify` is on (unless the section asks for
 * plaintext, where it means nothing): what is sent can then be read and changed on the way.
 */
export function warnIfSkipVerify(cfg: Pick<ClientTlsConfig, 'insecure' | 'insecure_skip_verify' | 'ca_file' | 'ca_pem'>, at: string, logger: Logger): void {
  if (!cfg.insecure_skip_verify || wantsPlaintext(cfg)) return;
  const setting = `${at ? `${at}::` : ''}tls::insecure_skip_verify`;
  logger.warn({ setting }, `${setting} is true: the server's certificate is not checked, so anyone on the way can read and change what is sent; for tests only`);
}

/**
 * For clients whose URL's scheme decides (HTTP): logs, at warn level, that `insecure` asks for
 * nothing when `url` is https:// (the collector's meaning, too: the server's certificate is still
 * checked), so that a block copied for a plaintext endpoint does not seem to turn checks off.
 */
export function warnIfInsecureIgnored(cfg: Pick<ClientTlsConfig, 'insecure' | 'insecure_skip_verify'>, at: string, url: string, logger: Logger): void {
  if (!cfg.insecure || cfg.insecure_skip_verify || !url.startsWith('https:')) return;
  const setting = `${at ? `${at}::` : ''}tls::insecure`;
  logger.warn({ setting, url }, `${setting} has no effect on ${url}: the URL's scheme decides, and the server's certificate is checked (tls::insecure_skip_verify: true skips the check, for testing only)`);
}

/** An Error for a TLS option: `<at>::tls::<option>: <message>`. */
function optionError(at: string, option: string, message: string): Error {
  return new Error(`${at ? `${at}::` : ''}tls::${option}: ${message}`);
}

/** One PEM input: the file's bytes (`what` is its path) or the PEM value (`what` names the key). */
interface Pem {
  option: string;
  what: string;
  bytes: Buffer;
}

function readPem(at: string, cfg: ClientTlsConfig, file: 'ca_file' | 'cert_file' | 'key_file', pem: 'ca_pem' | 'cert_pem' | 'key_pem'): Pem | undefined {
  const path = cfg[file];
  if (path !== undefined) {
    try {
      return { option: file, what: path, bytes: fs.readFileSync(path) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw optionError(at, file, `cannot read ${path}: ${e.code ?? e.message}`);
    }
  }
  const text = cfg[pem];
  return text === undefined ? undefined : { option: pem, what: 'the value', bytes: Buffer.from(text, 'utf8') };
}

/** The certificates of a PEM input, each parsed; throws when there is none or one is broken. */
function pemCertificates(at: string, pem: Pem): crypto.X509Certificate[] {
  const blocks = pem.bytes.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw optionError(at, pem.option, `${pem.what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new crypto.X509Certificate(block);
    } catch (err) {
      throw optionError(at, pem.option, `certificate ${i + 1} of ${pem.what} cannot be read: ${(err as Error).message}`);
    }
  });
}

/** The private key of a PEM input; throws when there is none, or it is encrypted. */
function pemPrivateKey(at: string, pem: Pem): crypto.KeyObject {
  const text = pem.bytes.toString('latin1');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    throw optionError(at, pem.option, `${pem.what} is encrypted; give the key unencrypted (there is no option for a key password)`);
  }
  try {
    return crypto.createPrivateKey(pem.bytes);
  } catch {
    throw optionError(at, pem.option, `${pem.what} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  }
}

/**
 * Node `tls` connection options of a client `tls` section, its PEM material read and checked:
 * `ca` (replacing the system roots, or added to them with `include_system_ca_certs_pool`),
 * `cert`/`key`, `servername` or, for an IP address, `checkServerIdentity` from
 * `server_name_override`, `rejectUnauthorized: false` for `insecure_skip_verify`, `minVersion` and
 * `maxVersion`. `insecure` is the caller's to apply ({@link wantsPlaintext}).
 *
 * @param at the path of the component in the config (`exporters::amplitude`); errors name
 *   `<at>::tls::<option>`.
 * @throws Error when a file cannot be read, holds no PEM certificate or key, the key is encrypted
 *   or is not the certificate's, or Node cannot use them (`<at>::tls: ...`).
 */
export function clientTlsOptions(cfg: ClientTlsConfig, at = ''): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = { rejectUnauthorized: !cfg.insecure_skip_verify, minVersion: NODE_TLS_VERSION[cfg.min_version] };
  if (cfg.max_version !== undefined) opts.maxVersion = NODE_TLS_VERSION[cfg.max_version];
  const ca = readPem(at, cfg, 'ca_file', 'ca_pem');
  if (ca) {
    pemCertificates(at, ca);
    opts.ca = cfg.include_system_ca_certs_pool ? [...tls.rootCertificates, ca.bytes.toString('latin1')] : [ca.bytes];
  }
  const cert = readPem(at, cfg, 'cert_file', 'cert_pem');
  const key = readPem(at, cfg, 'key_file', 'key_pem');
  if (cert && key) {
    const [leaf] = pemCertificates(at, cert);
    if (!leaf!.checkPrivateKey(pemPrivateKey(at, key))) {
      throw optionError(at, key.option, `${key.what} is not the private key of ${cert.option}${cert.option === 'cert_file' ? ` ${cert.what}` : ''}`);
    }
    opts.cert = cert.bytes;
    opts.key = key.bytes;
  }
  const name = cfg.server_name_override;
  if (name !== undefined) {
    if (net.isIP(name)) opts.checkServerIdentity = (_host, c) => tls.checkServerIdentity(name, c);
    else opts.servername = name;
  }
  try {
    tls.createSecureContext(opts);
  } catch (err) {
    throw new Error(`${at ? `${at}::` : ''}tls: the certificates and key cannot be used: ${(err as Error).message}`);
  }
  return opts;
}

/**
 * The TLS settings of one client, read at its start: Node connection options, read again every
 * `reload_interval` (checked when they are asked for, so nothing runs while the client is idle).
 * A reload that fails keeps the options in use and logs a warning; `generation` counts the
 * reloads that changed something.
 */
export class ClientTls {
  #options: tls.ConnectionOptions;
  #loadedAt: number;
  #generation = 0;

  private constructor(
    readonly config: ClientTlsConfig,
    readonly at: string,
    private readonly logger: Logger | undefined,
  ) {
    this.#options = clientTlsOptions(config, at);
    this.#loadedAt = Date.now();
  }

  /**
   * Reads and checks the section's files (see {@link clientTlsOptions}, which errors it throws)
   * and, with a logger, warns that `insecure_skip_verify` is on.
   * @param at the component's path in the config, e.g. `exporters::amplitude`.
   */
  static load(config: ClientTlsConfig, at: string, logger?: Logger): ClientTls {
    const t = new ClientTls(config, at, logger);
    if (logger) warnIfSkipVerify(config, at, logger);
    return t;
  }

  /** The connection options in use, read again first when `reload_interval` has passed. */
  get options(): tls.ConnectionOptions {
    const every = this.config.reload_interval ?? 0;
    if (every > 0 && Date.now() - this.#loadedAt >= every) this.#reload();
    return this.#options;
  }

  /** How many reloads changed the material (0 before any). */
  get generation(): number {
    void this.options;
    return this.#generation;
  }

  #reload(): void {
    this.#loadedAt = Date.now();
    let next: tls.ConnectionOptions;
    try {
      next = clientTlsOptions(this.config, this.at);
    } catch (err) {
      this.logger?.warn({ setting: `${this.at ? `${this.at}::` : ''}tls`, err: (err as Error).message }, 'tls files could not be read again; the ones read before stay in use');
      return;
    }
    const same = (a: unknown, b: unknown) => String(a) === String(b) || (Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b));
    const was = this.#options;
    const unchanged = same(was.cert, next.cert) && same(was.key, next.key) && same(Array.isArray(was.ca) ? was.ca.join('') : was.ca, Array.isArray(next.ca) ? next.ca.join('') : next.ca);
    if (unchanged) return;
    this.#options = next;
    this.#generation++;
    this.logger?.info({ setting: `${this.at ? `${this.at}::` : ''}tls`, generation: this.#generation }, 'tls files read again; new connections use them');
  }
}

/**
 * An `https.Agent` (keep-alive by default) whose connections take the current options of a
 * {@link ClientTls}. After a reload that changed the files, requests get new connections made with
 * them (the pool and TLS session keys carry the generation, so neither an idle connection nor a
 * resumed session of the old material is used); idle connections of the old material are closed,
 * busy ones finish their request.
 */
export class ClientTlsAgent extends https.Agent {
  #generation = 0;

  constructor(
    private readonly clientTls: ClientTls,
    options: https.AgentOptions = {},
  ) {
    super({ keepAlive: true, ...options });
  }

  override getName(options?: https.RequestOptions): string {
    const generation = this.clientTls.generation;
    if (generation !== this.#generation) {
      const old = `#tls${this.#generation}`;
      this.#generation = generation;
      for (const [name, sockets] of Object.entries(this.freeSockets)) if (name.endsWith(old)) for (const s of sockets ?? []) s.destroy();
    }
    return `${super.getName(options)}#tls${generation}`;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return super.createConnection({ ...options, ...this.clientTls.options } as https.RequestOptions, callback);
  }
}

/** Node's codes of a server certificate that does not chain to a trusted CA. */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);
/** OpenSSL's texts of those codes, for clients that pass on only the message (gRPC). */
const UNTRUSTED_CERT_TEXT = /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate signature failure|certificate not trusted|certificate rejected|invalid CA certificate/i;

/** What {@link tlsProblem} finds: `kind` names it, `hint` says what to change (option paths as in the config). */
export interface TlsProblem {
  kind: 'tls_untrusted' | 'tls_expired' | 'tls_name' | 'tls_client_certificate' | 'tls_refused';
  hint: string;
}

/**
 * What one error (not its causes) says about the TLS settings, or undefined: the server's
 * certificate not signed by a trusted CA, expired or not valid yet, or not for the name; the
 * client certificate missing or refused; a server that does not speak TLS. `peer` names the other
 * side in the hint ("server", "broker").
 */
export function tlsProblemOf(e: { code?: unknown; message?: unknown } | undefined, peer: string): TlsProblem | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (UNTRUSTED_CERT_CODES.has(code) || (!code && UNTRUSTED_CERT_TEXT.test(message))) {
    return { kind: 'tls_untrusted', hint: `the ${peer}'s certificate is not signed by a trusted CA: set tls::ca_file to the PEM file of the CA that signed it (tls::insecure_skip_verify: true skips the check, for testing only)` };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' || (!code && /certificate (has expired|is not yet valid)/i.test(message))) {
    return { kind: 'tls_expired', hint: `the ${peer}'s certificate is expired or not valid yet (or this machine's clock is off)` };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || (!code && /does not match certificate's altnames/i.test(message))) {
    return { kind: 'tls_name', hint: `the ${peer}'s certificate is not for the name connected to: use a ${peer} address it is for, or set tls::server_name_override to a name it is for` };
  }
  if (/ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE)/.test(code) || /alert (bad certificate|certificate required|unknown ca)/i.test(message)) {
    return { kind: 'tls_client_certificate', hint: `the ${peer} refused the client certificate: it wants one (tls::cert_file, tls::key_file) signed by a CA it trusts` };
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|disconnected before secure TLS connection was established/i.test(message)) {
    return { kind: 'tls_refused', hint: `the ${peer} does not seem to speak TLS` };
  }
  return undefined;
}

/**
 * A failed connection in one line, for an error message: Node's code and message
 * (`UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate`, OpenSSL's text on one
 * line), then, for a TLS failure, what to change (`; the server's certificate is not signed by a
 * trusted CA: set tls::ca_file ...`). The gateway's own errors are given by their message alone.
 */
export function connectionErrorText(err: unknown, peer = 'server'): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const message = (typeof e?.message === 'string' ? e.message : String(err)).replace(/\s+/g, ' ').trim();
  const code = typeof e?.code === 'string' && !(err instanceof OtelyticsError) && !message.includes(e.code) ? e.code : undefined;
  const problem = tlsProblem(err, peer);
  return `${code ? `${code}: ` : ''}${problem ? `${message.replace(/[\s.:;,]+$/, '')}; ${problem.hint}` : message}`;
}

/** {@link tlsProblemOf} of an error or any of its causes (`cause`, `originalError`), outermost first. */
export function tlsProblem(err: unknown, peer = 'server'): TlsProblem | undefined {
  let e = err as { cause?: unknown; originalError?: unknown; code?: unknown; message?: unknown } | undefined;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const p = tlsProblemOf(e, peer);
    if (p) return p;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return undefined;
}
