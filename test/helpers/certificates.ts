// Self-signed TLS certificates made with openssl, for servers the tests start (Redis over TLS).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface Certificate {
  certFile: string;
  keyFile: string;
  /** The PEM text of the certificate (it is its own CA). */
  pem: string;
}

/** A P-256 certificate for 127.0.0.1, localhost and `hostnames`, valid for a day, written into `dir` as `<name>.pem`/`<name>-key.pem`. */
export async function selfSignedCertificate(dir: string, name = 'server', hostnames: readonly string[] = []): Promise<Certificate> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...hostnames.map((h) => `DNS:${h}`)].join(',')}`,
  ]);
  return { certFile, keyFile, pem: await readFile(certFile, 'utf8') };
}
