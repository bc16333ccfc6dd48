/**
 * copyTarToPod against a fake API server whose exec endpoint runs the requested command for real on this
 * machine (sh, head, tar into a temporary directory), so what arrives is what a container would extract.
 * The endpoint negotiates v5, or only v4 as a cluster older than 1.30 does; on v4 stdin ends only when the
 * client closes, as through the kubelet.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { ArchiveChangedError, copyTarToPod, TarMissingError } from '../../../src/bridge/copy.js';
import { STAGING, STEPS_SCRIPT } from '../../../src/compose/sync.js';
import { ActionError } from '../../../src/errors.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { PROTOCOL_V4, PROTOCOL_V5 } from '../../../src/kube/stream/websocket.js';
import { simCerts } from '../../sim/kube/certs.js';
import { errors, type StatusBody } from '../../sim/kube/errors.js';
import { shapeWire } from '../../sim/kubelet/wire.js';
import { closeFakeApi, describeWireModes, serveFakeApi } from '../support.js';

const TOKEN = 'copy-token';

interface Exec {
  protocol: string;
  argv: string[];
  stdinBytes: number;
  /** Settles when the command has exited (or was never started). */
  done: Promise<void>;
}

/** How the fake cluster behaves; reset before each test. */
const cluster = {
  v4Only: false,
  /** The container has no sh (the runtime refuses the exec) or no tar (sh says "tar: not found"). */
  missing: undefined as 'sh' | 'tar' | 'xargs' | undefined,
  execs: [] as Exec[],
};

/** A PATH with sh, head and mkdir (and `more`) but no tar. */
function pathWithoutTar(more: string[] = []): string {
  const bin = mkdtempSync(path.join(tmpdir(), 'no-tar-'));
  for (const cmd of ['sh', 'head', 'mkdir', ...more]) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, cmd)).find((p) => existsSync(p));
    if (found) symlinkSync(found, path.join(bin, cmd));
  }
  return bin;
}
let noTarPath: string;
let noXargsPath: string;

function frame(channel: number, data: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
}

function status(protocol: string, argv: string[], code: number): string {
  if (code === 0) return JSON.stringify({ metadata: {}, status: 'Success' });
  const message =
    protocol === PROTOCOL_V5
      ? `command terminated with non-zero exit code: command terminated with exit code ${code}`
      : `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${code}`;
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
}

function onExec(ws: WebSocket, argv: string[]) {
  let exited = () => {};
  const exec: Exec = {
    protocol: ws.protocol,
    argv,
    stdinBytes: 0,
    done: new Promise((r) => {
      exited = r;
    }),
  };
  cluster.execs.push(exec);
  ws.send(frame(1, ''));
  const finish = (text: string) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(frame(3, text));
    ws.close(1000);
  };
  if (cluster.missing === 'sh') {
    const inner = `Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "${'0'.repeat(64)}": OCI runtime exec failed: exec failed: unable to start container process: exec: "sh": executable file not found in $PATH: unknown`;
    // The error channel's Status has no kind or apiVersion (fixture 102).
    const { kind: _kind, apiVersion: _apiVersion, ...status } = errors.internal(inner).body as StatusBody;
    finish(JSON.stringify(status));
    exited();
    return;
  }
  const [cmd = '', ...rest] = argv;
  const child = spawn(cmd, rest, {
    env: {
      PATH:
        cluster.missing === 'tar'
          ? noTarPath
          : cluster.missing === 'xargs'
            ? noXargsPath
            : '/usr/sbin:/usr/bin:/sbin:/bin',
    },
    stdio: 'pipe',
  });
  child.stdin.on('error', () => {});
  child.stdout.on('data', (c: Buffer) => ws.readyState === ws.OPEN && ws.send(frame(1, c)));
  child.stderr.on('data', (c: Buffer) => ws.readyState === ws.OPEN && ws.send(frame(2, c)));
  child.on('close', (code) => {
    finish(status(ws.protocol, argv, code ?? 1));
    exited();
  });
  ws.on('message', (data: Buffer) => {
    if (data[0] === 0) {
      exec.stdinBytes += data.length - 1;
      child.stdin.write(data.subarray(1));
    } else if (data[0] === 255 && data[1] === 0 && ws.protocol === PROTOCOL_V5) {
      child.stdin.end();
    }
  });
  ws.on('close', () => child.stdin.end());
  ws.on('error', () => {});
}

let server: https.Server;
let wss: WebSocketServer;
let client: KubeClient;

beforeAll(async () => {
  noTarPath = pathWithoutTar();
  noXargsPath = pathWithoutTar(['tar']);
  const certs = simCerts();
  server = https.createServer({ key: certs.keyPem, cert: certs.certPem });
  wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => {
      for (const p of offered) if (p === PROTOCOL_V4 || (p === PROTOCOL_V5 && !cluster.v4Only)) return p;
      return false;
    },
  });
  server.on('upgrade', (req, socket, head) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'https://x');
    shapeWire(socket, 'with-upgrade', wire.mode, wire.rand);
    wss.handleUpgrade(req, socket, head, (ws) => onExec(ws, url.searchParams.getAll('command')));
  });
  client = await serveFakeApi(server, TOKEN);
});

afterAll(async () => {
  await closeFakeApi(wss, [server], client);
});

beforeEach(() => {
  cluster.v4Only = false;
  cluster.missing = undefined;
  cluster.execs = [];
});

/** A tar archive of `files`, streamed in small chunks (as tarStream streams). */
function archive(files: Record<string, string | Buffer>): Readable {
  const p = pack();
  // A reader that stops early (tar exits at the end-of-archive blocks, before it read the padding) destroys the pack
  // and the entry it is writing; as in src/compose/upload.ts tarStream, that entry's AbortError is nobody's error.
  for (const [name, data] of Object.entries(files))
    p.entry({ name, mtime: new Date(0) }, data).on('error', () => {});
  p.finalize();
  return Readable.from(p);
}

async function length(r: Readable): Promise<number> {
  let n = 0;
  for await (const c of r) n += (c as Buffer).length;
  return n;
}

function captureLog() {
  const info: string[] = [];
  return { info, log: { info: (m: string) => void info.push(m), warning() {}, debug() {} } };
}

const target = { namespace: 'ns', pod: 'env-1-dind-abc12', container: 'dind' };
const big = randomBytes(3 * 1024 * 1024 + 17);
const FILES = { 'site/index.html': 'hello\n', 'data/big.bin': big };
let whole: Buffer;
beforeAll(async () => {
  const chunks: Buffer[] = [];
  for await (const c of archive(FILES)) chunks.push(c as Buffer);
  whole = Buffer.concat(chunks);
});

/** How the fake server shapes its frames in the run under way. */
const wire = describeWireModes(() => {
  describe('copyTarToPod', () => {
    it('v5: extracts the archive into a new directory in one pass', async () => {
      const dir = path.join(mkdtempSync(path.join(tmpdir(), 'pod-')), 'var/lib/preevy/env');
      let opened = 0;
      const r = await copyTarToPod(client, {
        ...target,
        dir,
        tar: () => {
          opened++;
          return archive(FILES);
        },
      });
      expect(r).toEqual({ bytes: await length(archive(FILES)), protocol: PROTOCOL_V5 });
      expect(opened).toBe(1);
      expect(readFileSync(path.join(dir, 'site/index.html'), 'utf8')).toBe('hello\n');
      expect(readFileSync(path.join(dir, 'data/big.bin')).equals(big)).toBe(true);
      expect(cluster.execs).toHaveLength(1);
      expect(cluster.execs[0]!.argv.slice(0, 2)).toEqual(['sh', '-c']);
      expect(cluster.execs[0]!.argv.join(' ')).not.toMatch(/head -c/);
    });

    it('v4 only: measures the archive, then sends exactly that many bytes behind head -c', async () => {
      cluster.v4Only = true;
      const dir = path.join(mkdtempSync(path.join(tmpdir(), 'pod-')), 'env');
      const size = await length(archive(FILES));
      const { info, log } = captureLog();
      let opened = 0;
      const r = await copyTarToPod(client, {
        ...target,
        dir,
        log,
        tar: () => {
          opened++;
          return archive(FILES);
        },
      });
      expect(r).toEqual({ bytes: size, protocol: PROTOCOL_V4 });
      expect(opened).toBe(2);
      expect(info.join('\n')).toMatch(/only v4\.channel\.k8s\.io .*files are read twice/);
      expect(readFileSync(path.join(dir, 'site/index.html'), 'utf8')).toBe('hello\n');
      expect(readFileSync(path.join(dir, 'data/big.bin')).equals(big)).toBe(true);
      // The refused first attempt got no data; the second got the whole archive and nothing more.
      expect(cluster.execs.map((e) => e.stdinBytes)).toEqual([0, size]);
      expect(cluster.execs[1]!.argv.join(' ')).toMatch(new RegExp(`^sh -c head -c ${size} \\| sh -c `));
    });

    it.each([
      ['grew', () => archive({ ...FILES, 'site/index.html': 'a longer page\n'.repeat(40) })],
      ['shrank', () => archive({ 'site/index.html': 'hello\n' })],
      // The worst case: the first N bytes are a complete archive, which `head -c N | tar x` would accept.
      ['grew past a complete archive', () => Readable.from([whole, Buffer.alloc(10_240)])],
    ] as const)(
      'v4 only: files that %s between the two passes fail the upload, and the remote never gets the whole length',
      async (how, secondPass) => {
        cluster.v4Only = true;
        const dir = mkdtempSync(path.join(tmpdir(), 'pod-'));
        let opened = 0;
        const err = await copyTarToPod(client, {
          ...target,
          dir,
          tar: () => (++opened === 1 ? Readable.from([whole]) : secondPass()),
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ArchiveChangedError);
        expect((err as ActionError).message).toMatch(
          new RegExp(`files changed during the upload: their archive measured ${whole.length} bytes`),
        );
        expect((err as ActionError).userMessage).toMatch(/reads the files twice/);
        const remote = cluster.execs[1]!;
        await remote.done;
        expect(remote.stdinBytes).toBeLessThan(whole.length);
        if (how === 'grew past a complete archive')
          expect(existsSync(path.join(dir, 'site/index.html'))).toBe(false);
      },
    );

    it('a non-zero exit of tar fails with its stderr', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'pod-'));
      const err = await copyTarToPod(client, {
        ...target,
        dir,
        tar: () => Readable.from([Buffer.alloc(4096, 'x')]),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ActionError);
      expect(err).not.toBeInstanceOf(TarMissingError);
      expect((err as ActionError).message).toMatch(
        new RegExp(
          `into ${dir} of pod env-1-dind-abc12 \\(container dind\\) failed: tar exited [1-9]\\d*: .*tar`,
        ),
      );
    });

    it.each([
      [false, PROTOCOL_V5],
      [true, PROTOCOL_V4],
    ])('a container without tar (v4 only: %s) breaks the template contract', async (v4Only) => {
      cluster.v4Only = v4Only;
      cluster.missing = 'tar';
      const err = await copyTarToPod(client, {
        ...target,
        dir: mkdtempSync(path.join(tmpdir(), 'pod-')),
        tar: () => archive(FILES),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TarMissingError);
      expect((err as ActionError).message).toMatch(
        /pod env-1-dind-abc12, container dind\) cannot run tar: .*tar: not found/,
      );
      expect((err as ActionError).hint).toMatch(
        /template contract requires `tar` .* in the first container of the docker-host Deployment/,
      );
    });

    it('a container without xargs (which puts an upload over the last one in place) is told by name', async () => {
      cluster.missing = 'xargs';
      const p = pack();
      p.entry({ name: `${STAGING}/run.sh` }, STEPS_SCRIPT);
      for (const list of ['remove', 'rmdirs', 'steps']) p.entry({ name: `${STAGING}/${list}` }, '');
      p.finalize();
      const err = await copyTarToPod(client, {
        ...target,
        dir: mkdtempSync(path.join(tmpdir(), 'pod-')),
        tar: () => Readable.from(p),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TarMissingError);
      expect((err as ActionError).message).toMatch(/container dind\) cannot run xargs: .*xargs: not found/);
      expect((err as ActionError).hint).toMatch(/put in place with `xargs`/);
    });

    it('a container without sh breaks the template contract', async () => {
      cluster.missing = 'sh';
      const err = await copyTarToPod(client, {
        ...target,
        dir: '/var/lib/preevy/x',
        tar: () => archive(FILES),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TarMissingError);
      expect((err as ActionError).message).toMatch(
        /pod env-1-dind-abc12, container dind\) cannot run sh and tar: .*executable file not found/,
      );
    });
  });
});
