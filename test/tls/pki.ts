/**
 * A throw-away PKI for the tests of outgoing TLS, made with the `openssl` command in a temporary
 * directory: a CA, a second CA that signed none of the others, and certificates signed by the
 * first CA for a server (`localhost`, `127.0.0.1`), for a server under another name only
 * (`destination.test`), and for two clients (mutual TLS). Keys are EC P-256, unencrypted PEM.
 */
import { execFileSync } from 'node:child_process';
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

function openssl(args: string[], cwd: string): void {
  execFileSync(process.env.OPENSSL || 'openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): CertPair {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  return { certFile, keyFile, cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
}

function makeCa(dir: string, name: string, subject: string): CertPair {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return pair(dir, name);
}

/** A key and a certificate for `subject` with the x509v3 `extensions`, signed by the CA `ca`. */
function makeSigned(dir: string, ca: string, name: string, subject: string, extensions: string[]): CertPair {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions.join('\n') + '\n');
  const serial = `0x${crypto.randomBytes(8).toString('hex')}`;
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', serial, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  fs.rmSync(path.join(dir, `${name}.csr`));
  fs.rmSync(path.join(dir, `${name}.ext`));
  return pair(dir, name);
}

/** Makes the PKI (about a tenth of a second); call `remove()` when done. */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-pki-'));
  const serverExt = (san: string) => ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${san}`];
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
  try {
    const ca = makeCa(dir, 'ca', '/CN=otelytics test CA');
    const otherCa = makeCa(dir, 'other-ca', '/CN=otelytics other CA');
    return {
      dir,
      ca,
      otherCa,
      server: makeSigned(dir, 'ca', 'server', '/CN=localhost', serverExt('DNS:localhost,IP:127.0.0.1')),
      misnamed: makeSigned(dir, 'ca', 'misnamed', `/CN=${MISNAMED_HOST}`, serverExt(`DNS:${MISNAMED_HOST}`)),
      client: makeSigned(dir, 'ca', 'client', '/CN=otelytics-client', clientExt),
      client2: makeSigned(dir, 'ca', 'client2', '/CN=otelytics-client-renewed', clientExt),
      remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
