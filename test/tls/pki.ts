/**
 * Throw-away certificates for the TLS tests, made with the `openssl` command in temporary
 * directories: keys EC P-256, unencrypted PEM. `makeCa` gives a CA that signs server and client
 * certificates on request (new keys on every call, so two servers made in one test differ);
 * `makeTestPki` a ready set for the tests of outgoing TLS.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A certificate and its key: files, and their bytes. */
export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestCa extends CertPair {
  dir: string;
  /** PEM file of the CA's certificate (what clients trust, or a server's client_ca_file). */
  caFile: string;
  /**
   * A new certificate signed by this CA. `server`: for `san` (default `DNS:localhost,IP:127.0.0.1`),
   * else a client certificate; `days`: validity (default 30).
   */
  sign(name: string, o: { cn: string; server?: boolean; san?: string; days?: number }): CertPair;
  /** Removes the directory. */
  rm(): void;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync(process.env.OPENSSL || 'openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

function pair(dir: string, name: string): CertPair {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  return { certFile, keyFile, cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
}

/** A new CA named `cn` in a temporary directory (or in `dir`, as `<prefix>.pem` / `<prefix>.key`). */
export function makeCa(cn = 'otelytics test CA', where?: { dir: string; prefix: string }): TestCa {
  const dir = where?.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-tls-'));
  const prefix = where?.prefix ?? 'ca';
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${prefix}.key`, '-out', `${prefix}.pem`, '-days', '30', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  const own = pair(dir, prefix);
  return {
    ...own,
    dir,
    caFile: own.certFile,
    sign(name, o) {
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${o.cn}`], dir);
      const ext = o.server
        ? ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${o.san ?? 'DNS:localhost,IP:127.0.0.1'}`]
        : ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
      fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${prefix}.pem`, '-CAkey', `${prefix}.key`, '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', String(o.days ?? 30), '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
      fs.rmSync(path.join(dir, `${name}.csr`));
      fs.rmSync(path.join(dir, `${name}.ext`));
      return pair(dir, name);
    },
    rm: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The SHA-256 fingerprint of a PEM certificate file, as `tls.PeerCertificate.fingerprint256` gives it. */
export function fingerprint(certFile: string): string {
  return new crypto.X509Certificate(fs.readFileSync(certFile)).fingerprint256;
}

export interface TestPki {
  dir: string;
  /** The CA that signed `server`, `misnamed`, `client` and `client2`. */
  ca: CertPair;
  /** A CA that signed nothing here: trusting it does not make `server` trusted. */
  otherCa: CertPair;
  /** For `localhost` and `127.0.0.1`. */
  server: CertPair;
  /** For `destination.test` only: connecting by 127.0.0.1 fails the name check. */
  misnamed: CertPair;
  client: CertPair;
  /** A second client certificate (a renewal of `client`), for reload tests. */
  client2: CertPair;
  /** Removes the directory. */
  remove(): void;
}

/** The name on `misnamed`. */
export const MISNAMED_HOST = 'destination.test';

/** Makes the PKI of the outgoing TLS tests (about a tenth of a second); call `remove()` when done. */
export function makeTestPki(): TestPki {
  const ca = makeCa('otelytics test CA');
  try {
    const otherCa = makeCa('otelytics other CA', { dir: ca.dir, prefix: 'other-ca' });
    return {
      dir: ca.dir,
      ca,
      otherCa,
      server: ca.sign('server', { cn: 'localhost', server: true }),
      misnamed: ca.sign('misnamed', { cn: MISNAMED_HOST, server: true, san: `DNS:${MISNAMED_HOST}` }),
      client: ca.sign('client', { cn: 'otelytics-client' }),
      client2: ca.sign('client2', { cn: 'otelytics-client-renewed' }),
      remove: ca.rm,
    };
  } catch (err) {
    ca.rm();
    throw err;
  }
}
