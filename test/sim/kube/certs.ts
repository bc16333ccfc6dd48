/**
 * A throwaway CA and a serving certificate made with the `openssl` CLI (there on every machine; no npm
 * package needed). Made once per process and per set of names, because key generation is the slow part.
 * `issueCert` signs more certificates with a CA made here (the simulated ingress controller's per-host
 * certificates); `selfSignedCert` makes one no client trusts (ingress-nginx's fake certificate).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
// The CA's key stays in memory only, and only for CAs made by this process: nothing else can sign with it.
const caKeys = new Map<string, string>();

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
    caKeys.set(certs.caPem, readFileSync(join(dir, 'ca.key'), 'utf8'));
    return certs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

const issued = new Map<string, Promise<IssuedCert>>();

function openssl(dir: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd: dir }, (err, _stdout, stderr) =>
      err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function sanOf(names: string[]): string {
  return names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

/** Runs fn in a fresh temporary directory that is removed afterwards; the answer is cached under key. */
function cachedInTempDir(key: string, fn: (dir: string) => Promise<IssuedCert>): Promise<IssuedCert> {
  const hit = issued.get(key);
  if (hit) return hit;
  const p = (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kube-sim-certs-'));
    try {
      return await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  // A failure is not cached: the next handshake tries again.
  p.catch(() => issued.delete(key));
  issued.set(key, p);
  return p;
}

/**
 * A serving certificate for `names` (wildcards allowed) signed by the CA whose PEM is `caPem`, which must come
 * from `simCerts` in this process. Asynchronous (a TLS handshake waits for it without blocking the others) and
 * cached per CA and names.
 */
export function issueCert(
  caPem: string,
  names: string[],
  commonName = names[0] ?? 'kube-sim',
): Promise<IssuedCert> {
  const caKey = caKeys.get(caPem);
  if (!caKey) return Promise.reject(new Error('issueCert: that CA was not made by simCerts in this process'));
  return cachedInTempDir(`${caPem}\0${commonName}\0${names.join(',')}`, async (dir) => {
    writeFileSync(join(dir, 'ca.crt'), caPem);
    writeFileSync(join(dir, 'ca.key'), caKey, { mode: 0o600 });
    writeFileSync(
      join(dir, 'ext.cnf'),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sanOf(names)}\n`,
    );
    // No shell in between: only the slash, openssl's own separator, needs escaping in -subj.
    await openssl(dir, [
      'req',
      ...EC_KEY,
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.csr',
      '-subj',
      `/CN=${commonName.replaceAll('/', '\\/')}`,
    ]);
    await openssl(dir, [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
      '-out',
      'leaf.crt',
      '-days',
      '825',
      '-extfile',
      'ext.cnf',
    ]);
    return {
      certPem: readFileSync(join(dir, 'leaf.crt'), 'utf8'),
      keyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'),
    };
  });
}

/** A self-signed serving certificate (no CA vouches for it), cached per subject and names. */
export function selfSignedCert(subject: string, names: string[]): Promise<IssuedCert> {
  return cachedInTempDir(`self\0${subject}\0${names.join(',')}`, async (dir) => {
    await openssl(dir, [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'self.key',
      '-out',
      'self.crt',
      '-days',
      '365',
      '-subj',
      subject,
      '-addext',
      `subjectAltName=${sanOf(names)}`,
      '-addext',
      'extendedKeyUsage=serverAuth',
    ]);
    return {
      certPem: readFileSync(join(dir, 'self.crt'), 'utf8'),
      keyPem: readFileSync(join(dir, 'self.key'), 'utf8'),
    };
  });
}
