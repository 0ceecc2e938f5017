import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** Where the public certificate is written for clients to trust. */
export const certFileName = 'cert.pem';

export interface EmulatorCertificate {
  /** PEM of the public certificate: what clients trust. */
  readonly cert: string;
  /** PEM of the private key; it stays in memory. */
  readonly key: string;
}

/**
 * A self-signed certificate made at every start, so no private key is ever committed: for
 * localhost, the loopback addresses, `host` and `extraNames`. The public part is written to
 * `certDir/cert.pem` when a directory is given.
 */
export async function makeCertificate(host: string, extraNames: readonly string[], certDir: string | undefined): Promise<EmulatorCertificate> {
  const certNames = new Set(['localhost', '127.0.0.1', '::1', ...extraNames]);
  if (host !== '0.0.0.0' && host !== '::') certNames.add(host);
  const pems = await generate([{ name: 'commonName', value: 'tweetbus x-emulator' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...certNames].map((name) => (isIp(name) ? { type: 7, ip: name } : { type: 2, value: name })),
      },
    ],
  });
  if (certDir !== undefined) {
    await mkdir(certDir, { recursive: true });
    await writeFile(join(certDir, certFileName), pems.cert);
  }
  return { cert: pems.cert, key: pems.private };
}

/** The host to put in the emulator's URL: a wildcard address is reached on loopback. */
export function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function isIp(value: string): boolean {
  return /^[0-9.]+$/.test(value) || value.includes(':');
}
