/**
 * execInPod against a fake API server (HTTPS + `ws`, self-signed certificate) that speaks the recorded exec
 * protocol (fixtures 095-104): channel bytes, the initial empty stdout frame, the v5 close frame, channel-3
 * Statuses worded as the API server words them, and handshake refusals with a Status body.
 */

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { KubeApiError } from '../../../../src/errors.js';
import type { KubeClient } from '../../../../src/kube/client.js';
import {
  ExecError,
  ExecProtocolV4,
  execInPod,
  exitCodeOf,
  lengthPrefixedCommand,
} from '../../../../src/kube/stream/exec.js';
import { PROTOCOL_V4, PROTOCOL_V5 } from '../../../../src/kube/stream/websocket.js';
import { textSink } from '../../../../src/util/sink.js';
import { simCerts } from '../../../sim/kube/certs.js';
import { shapeWire } from '../../../sim/kubelet/wire.js';
import { closeFakeApi, describeWireModes, pauseReading, serveFakeApi } from '../../support.js';

const fixtures = path.join(import.meta.dirname, '../../../fixtures/kube-api');
const fixture = (name: string) =>
  JSON.parse(readFileSync(path.join(fixtures, name), 'utf8')) as {
    response: { status: number; body: unknown; stream?: Array<{ channel?: number; payloadJson?: unknown }> };
  };
const statusFrom = (name: string) =>
  JSON.stringify(fixture(name).response.stream?.find((f) => f.channel === 3)?.payloadJson);

const SUCCESS = statusFrom('095-ws-exec-v5-echo-hello.json');
const EXIT3 = statusFrom('096-ws-exec-v5-stderr-exit3.json');
const INTERNAL = statusFrom('103-ws-exec-v5-unknown-binary.json');
const TOKEN = 'test-token';

interface Seen {
  protocol: string;
  query: URLSearchParams;
  closedBy?: 'client' | 'server';
  stdinClosed?: boolean;
}

let onSlowReaderPause: (() => void) | undefined;

function send(ws: WebSocket, channel: number, data: Buffer | string) {
  ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
}

/** The fake exec endpoint: behaviour chosen by the command. */
function onExec(ws: WebSocket, seen: Seen) {
  const command = seen.query.getAll('command');
  const finish = (status: string) => {
    send(ws, 3, status);
    seen.closedBy ??= 'server';
    ws.close(1000);
  };
  send(ws, 1, '');
  const script = command.join(' ');
  let stdinBytes = 0;
  const hash = createHash('sha256');
  const head = /^sh -c head -c (\d+) \| (.*)$/.exec(script);
  let paused = false;
  ws.on('message', (data: Buffer) => {
    if (command[0] === 'slow-sha256sum' && !paused) {
      // A slow reader: stop reading for a while; the client must stop reading its stdin too.
      paused = true;
      pauseReading(ws, () => onSlowReaderPause?.());
    }
    if (data[0] === 0) {
      const payload = data.subarray(1);
      stdinBytes += payload.length;
      if (command[0] === 'cat' || head) send(ws, 1, payload);
      if (command[0]?.endsWith('sha256sum')) hash.update(payload);
      if (head && stdinBytes >= Number(head[1])) finish(SUCCESS);
    } else if (data[0] === 255 && data[1] === 0) {
      seen.stdinClosed = true;
      if (command[0] === 'cat') finish(SUCCESS);
      if (command[0]?.endsWith('sha256sum')) {
        send(ws, 1, `${hash.digest('hex')}  -\n`);
        finish(SUCCESS);
      }
    }
  });
  ws.on('close', () => {
    seen.closedBy ??= 'client';
  });
  if (script === 'echo hello') {
    send(ws, 1, 'hello\n');
    finish(SUCCESS);
  } else if (script === 'sh -c echo err >&2; exit 3') {
    send(ws, 2, 'err\n');
    finish(EXIT3);
  } else if (command[0] === '/no/such/binary') {
    finish(INTERNAL);
  } else if (script === 'drop') {
    ws.close(1000);
  } else if (script === 'garbage') {
    send(ws, 3, '{not json');
  }
  // 'sleep', 'cat', 'sha256sum', head -c: wait for the client
}

function refuse(socket: import('node:stream').Duplex, status: number, body: unknown) {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  const type = typeof body === 'string' ? '' : 'Content-Type: application/json\r\n';
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Not Found'}\r\n${type}Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

let server: https.Server;
let wss: WebSocketServer;
let client: KubeClient;
const seen: Seen[] = [];

beforeAll(async () => {
  // The simulator's CA and server certificate (one openssl run per process, cached).
  const certs = simCerts();
  server = https.createServer({ key: certs.keyPem, cert: certs.certPem });
  wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered, req) => {
      const v4only = req.url?.includes('/pods/old-pod/');
      for (const p of offered) if (p === PROTOCOL_V4 || (p === PROTOCOL_V5 && !v4only)) return p;
      return false;
    },
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return refuse(socket, 403, { kind: 'Status', status: 'Failure', message: 'no token', code: 403 });
    if (url.pathname.includes('/pods/forbidden/'))
      return refuse(socket, 403, fixture('071-error-403-exec-websocket.json').response.body);
    if (url.pathname.includes('/pods/no-such-pod/'))
      return refuse(socket, 404, fixture('104-ws-exec-v5-pod-notfound.json').response.body);
    shapeWire(socket, 'with-upgrade', wire.mode, wire.rand);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s: Seen = { protocol: ws.protocol, query: url.searchParams };
      seen.push(s);
      onExec(ws, s);
    });
  });
  client = await serveFakeApi(server, TOKEN);
});

afterAll(async () => {
  await closeFakeApi(wss, [server], client);
});

const base = { namespace: 'ns', pod: 'web-1', container: 'docker' };

/** How the fake server shapes its frames in the run under way. */
const wire = describeWireModes(() => {
  describe('execInPod', () => {
    it('runs echo over v5 and returns exit 0', async () => {
      const out = textSink();
      const r = await execInPod(client, { ...base, command: ['echo', 'hello'], stdout: out.stream });
      expect(r).toMatchObject({ exitCode: 0, protocol: PROTOCOL_V5 });
      expect(out.text()).toBe('hello\n');
      const s = seen.at(-1)!;
      expect(s.query.get('container')).toBe('docker');
      expect(s.query.get('stdin')).toBe('false');
    });

    it('streams stdin and sends the v5 close frame; output continues after it', async () => {
      const out = textSink();
      const r = await execInPod(client, {
        ...base,
        command: ['cat'],
        stdin: Readable.from([Buffer.from('abc'), Buffer.from('def')]),
        stdout: out.stream,
      });
      expect(r.exitCode).toBe(0);
      expect(out.text()).toBe('abcdef');
      expect(seen.at(-1)!.stdinClosed).toBe(true);
    });

    it('sends 48 MB of stdin intact, and stops reading stdin while the server does not read', async () => {
      const data = randomBytes(48 * 1024 * 1024);
      let offset = 0;
      const stdin = new Readable({
        read() {
          if (offset >= data.length) return this.push(null);
          this.push(data.subarray(offset, offset + 64 * 1024));
          offset += 64 * 1024;
        },
      });
      let readWhilePaused = -1;
      onSlowReaderPause = () => {
        readWhilePaused = offset;
      };
      const out = textSink();
      try {
        const r = await execInPod(client, {
          ...base,
          command: ['slow-sha256sum'],
          stdin,
          stdout: out.stream,
        });
        expect(r.exitCode).toBe(0);
      } finally {
        onSlowReaderPause = undefined;
      }
      expect(out.text()).toBe(`${createHash('sha256').update(data).digest('hex')}  -\n`);
      // 1 MiB in the WebSocket plus the kernel's socket buffers, not the whole input.
      expect(readWhilePaused).toBeGreaterThan(0);
      expect(readWhilePaused).toBeLessThan(24 * 1024 * 1024);
    });

    it('returns the exit code and stderr of a failing command', async () => {
      const err = textSink();
      const r = await execInPod(client, {
        ...base,
        command: ['sh', '-c', 'echo err >&2; exit 3'],
        stderr: err.stream,
      });
      expect(r.exitCode).toBe(3);
      expect(r.stderrTail).toBe('err\n');
      expect(err.text()).toBe('err\n');
    });

    it('turns a Failure Status that is not an exit code into an error with its message', async () => {
      await expect(execInPod(client, { ...base, command: ['/no/such/binary'] })).rejects.toThrow(ExecError);
      await expect(execInPod(client, { ...base, command: ['/no/such/binary'] })).rejects.toThrow(
        /no such file|not found|executable file/i,
      );
    });

    it('fails when the connection closes without a status', async () => {
      await expect(execInPod(client, { ...base, command: ['drop'] })).rejects.toThrow(
        /connection closed before the command finished/,
      );
    });

    it('on v4 with stdin fails with ExecProtocolV4 before sending data', async () => {
      const stdin = new PassThrough();
      stdin.write('abc');
      const err = await execInPod(client, { ...base, pod: 'old-pod', command: ['cat'], stdin }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ExecProtocolV4);
      expect(stdin.readableLength).toBe(3);
    });

    it('on v4 runs a length-prefixed command with stdinLength', async () => {
      const out = textSink();
      const payload = Buffer.from('hello v4');
      const r = await execInPod(client, {
        ...base,
        pod: 'old-pod',
        command: lengthPrefixedCommand(['cat'], payload.length),
        stdinLength: payload.length,
        stdin: Readable.from([payload]),
        stdout: out.stream,
      });
      expect(r).toMatchObject({ exitCode: 0, protocol: PROTOCOL_V4 });
      expect(out.text()).toBe('hello v4');
    });

    it('on v4 without stdin just runs the command', async () => {
      const r = await execInPod(client, { ...base, pod: 'old-pod', command: ['echo', 'hello'] });
      expect(r).toMatchObject({ exitCode: 0, protocol: PROTOCOL_V4 });
    });

    it('turns a 403 upgrade into a KubeApiError with the Status message', async () => {
      const err = await execInPod(client, { ...base, pod: 'forbidden', command: ['echo'] }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).code).toBe(403);
      expect((err as KubeApiError).message).toMatch(/cannot get resource "pods\/exec"/);
      expect((err as KubeApiError).userMessage).toMatch(/lacks verb "get" on resource "pods\/exec"/);
    });

    it('turns a 404 upgrade into a KubeApiError', async () => {
      const err = await execInPod(client, { ...base, pod: 'no-such-pod', command: ['echo'] }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).code).toBe(404);
      expect((err as KubeApiError).message).toMatch(/pods "no-such-pod" not found/);
    });

    it('terminates the socket on timeout', async () => {
      const before = seen.length;
      await expect(execInPod(client, { ...base, command: ['sleep'], timeoutMs: 200 })).rejects.toThrow(
        /timed out/,
      );
      await new Promise((r) => setTimeout(r, 100));
      expect(seen[before]?.closedBy).toBe('client');
    });

    it('terminates the socket on abort', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await expect(execInPod(client, { ...base, command: ['sleep'], signal: ac.signal })).rejects.toThrow(
        /aborted/,
      );
    });
  });
});

describe('helpers', () => {
  it('lengthPrefixedCommand quotes arguments', () => {
    expect(lengthPrefixedCommand(['tar', 'x', '-C', '/var/lib/my dir'], 10)).toEqual([
      'sh',
      '-c',
      "head -c 10 | tar x -C '/var/lib/my dir'",
    ]);
  });

  it('exitCodeOf reads the recorded Statuses (v5 and v4 wording)', () => {
    expect(exitCodeOf(JSON.parse(SUCCESS), '')).toBe(0);
    expect(exitCodeOf(JSON.parse(EXIT3), '')).toBe(3);
    expect(exitCodeOf(JSON.parse(statusFrom('101-ws-exec-v4-only-stderr-exit3.json')), '')).toBe(3);
    expect(() => exitCodeOf(JSON.parse(statusFrom('102-ws-exec-v5-missing-command.json')), '')).toThrow(
      ExecError,
    );
  });
});
