/**
 * A throwaway CA and a serving certificate made with the `openssl` CLI (there on every machine; no npm
 * package needed). Made once per process and per set of names, because key generation is the slow part.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SimCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const cache = new Map<string, SimCerts>();

const DEFAULT_NAMES = [
  '127.0.0.1',
  '::1',
  'localhost',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
];

/** CA + server certificate valid for 127.0.0.1, ::1, localhost, the in-cluster names and `extraNames`. */
export function simCerts(extraNames: string[] = []): SimCerts {
  const names = [
    ...new Set([...DEFAULT_NAMES, ...extraNames.filter((n) => n && n !== '0.0.0.0' && n !== '::')]),
  ];
  const key = names.join(',');
  const hit = cache.get(key);
  if (hit) return hit;

  const dir = mkdtempSync(join(tmpdir(), 'kube-sim-certs-'));
  try {
    const run = (args: string[]) =>
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=kube-sim-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ]);
    run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    writeFileSync(
      join(dir, 'ext.cnf'),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
    );
    run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '3650',
      '-extfile',
      'ext.cnf',
    ]);
    const certs: SimCerts = {
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      certPem: readFileSync(join(dir, 'server.crt'), 'utf8'),
      keyPem: readFileSync(join(dir, 'server.key'), 'utf8'),
    };
    cache.set(key, certs);
    return certs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
