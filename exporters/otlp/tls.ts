/** Loading the PEM files named by `tls::ca_file`, `tls::cert_file` and `tls::key_file`. */
import fs from 'node:fs';
import { errorMessage } from '../../src/errors.js';
import type { TlsConfig } from './config.js';

/** The TLS material of a client, read once at start-up. */
export interface TlsMaterial {
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** false when `insecure_skip_verify` is set: the server certificate is not checked. */
  rejectUnauthorized: boolean;
}

/**
 * Reads the PEM files of a TLS config.
 * @throws Error naming the option and file when one cannot be read (the exporter's start fails).
 */
export function loadTls(id: string, tls: TlsConfig): TlsMaterial {
  const read = (key: 'ca_file' | 'cert_file' | 'key_file'): Buffer | undefined => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`exporters::${id}::tls::${key}: cannot read ${file}: ${errorMessage(err)}`);
    }
  };
  return { ca: read('ca_file'), cert: read('cert_file'), key: read('key_file'), rejectUnauthorized: !tls.insecure_skip_verify };
}
