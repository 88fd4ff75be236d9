/**
 * Test certificates made with openssl (as scripts/kafka/kafka.mjs makes the broker's): a CA, and
 * server and client certificates it signs, EC P-256, PEM, keys unencrypted. Every call makes new
 * keys, so two servers made in one test have different certificates.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync(process.env.OPENSSL || 'openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

export interface TestCa {
  dir: string;
  /** PEM file of the CA's certificate (what clients trust, or a server's client_ca_file). */
  caFile: string;
  /** A new certificate signed by this CA; `server`: for localhost and 127.0.0.1, else a client certificate. */
  issue(name: string, o: { cn: string; server?: boolean; days?: number }): { certFile: string; keyFile: string };
}

/** A new CA in a temporary directory (removed with `rm`). */
export function makeCa(cn = 'otelytics test CA'): TestCa & { rm(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-tls-'));
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    issue(name, o) {
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${o.cn}`], dir);
      const ext = o.server
        ? ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']
        : ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
      fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', String(o.days ?? 30), '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
      fs.rmSync(path.join(dir, `${name}.csr`));
      fs.rmSync(path.join(dir, `${name}.ext`));
      return { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
    },
    rm: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The SHA-256 fingerprint of a PEM certificate file, as `tls.PeerCertificate.fingerprint256` gives it. */
export function fingerprint(certFile: string): string {
  return new crypto.X509Certificate(fs.readFileSync(certFile)).fingerprint256;
}
