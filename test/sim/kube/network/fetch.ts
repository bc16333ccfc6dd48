/**
 * A client on the cluster's network with DNS pointing every name at the ingress controller, like
 * `curl --resolve <host>:80:<ingress> --resolve <host>:443:<ingress>`: a name on port 80 or 443 goes to the
 * ingress controller's HTTP or HTTPS listener (Host header and SNI from the URL, the simulator's CA trusted),
 * other ports of a name are refused (the controller listens on nothing else), and an IP address is connected
 * to as it is (a LoadBalancer's), except the ingress controller's own address, mapped like a name.
 * Redirects are not followed, as curl does not by default.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { SocketSet } from './backends.js';

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface FetchResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface FetchTarget {
  /** The ingress controller's address as published on Ingresses, and where it really listens. */
  ingressIp: string;
  listenHost: string;
  httpPort: number;
  httpsPort: number;
  caPem: string;
  sockets: SocketSet;
}

function refused(host: string, port: number): Error {
  return Object.assign(new Error(`connect ECONNREFUSED ${host}:${port}`), {
    code: 'ECONNREFUSED',
    address: host,
    port,
  });
}

export function simFetch(target: FetchTarget, url: string, init: FetchInit = {}): Promise<FetchResult> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(new Error(`unsupported protocol ${u.protocol} in ${url}`));
  }
  const secure = u.protocol === 'https:';
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const byName = isIP(hostname) === 0;

  let connectHost = hostname;
  let connectPort = port;
  if (byName || hostname === target.ingressIp) {
    if (port !== 80 && port !== 443) return Promise.reject(refused(target.ingressIp, port));
    connectHost = target.listenHost;
    connectPort = port === 443 ? target.httpsPort : target.httpPort;
  }

  const timeoutMs = init.timeoutMs ?? 10_000;
  const options: https.RequestOptions = {
    host: connectHost,
    port: connectPort,
    method: init.method ?? 'GET',
    path: `${u.pathname}${u.search}`,
    headers: { host: u.host, ...init.headers },
    agent: false,
  };
  if (secure) {
    options.ca = target.caPem;
    // No SNI for an address (Node would not send one); the certificate is then checked against the address.
    options.servername = byName ? hostname : '';
  }

  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)),
      timeoutMs,
    );
    function fail(err: Error): void {
      clearTimeout(timer);
      reject(err);
    }
    req.on('socket', (s) => target.sockets.add(s));
    req.on('error', fail);
    req.end();
  });
}
