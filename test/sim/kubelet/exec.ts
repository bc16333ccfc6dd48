/**
 * The WebSocket form of pods/exec, as a real v1.32 cluster answers it (fixtures 095-104): the API server
 * terminates v5.channel.k8s.io itself, v4 and older go through to the kubelet. Frames are binary, the first
 * byte is the channel: 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize, 255 (v5) close of a channel.
 */
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { PassThrough } from 'node:stream';
import type { WebSocket } from 'ws';
import type { UpgradeContext, UpgradeHandler } from '../kube/server/index.js';
import { badRequestStatus, boolParam, goJson, offeredProtocols, podKey } from './common.js';
import type { DockerPodBackend } from './docker/backend.js';

/** Preference order: the newest protocol the client offers wins. */
export const EXEC_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
] as const;

/** The exec endpoint of a cluster older than 1.30 (fixtures 100, 101): no v5, so stdin has no end signal. */
export const EXEC_PROTOCOLS_V4_ONLY = EXEC_PROTOCOLS.filter((p) => p !== 'v5.channel.k8s.io');

/** The stream channels: each frame's first byte. */
const CH = { stdin: 0, stdout: 1, stderr: 2, error: 3, close: 255 } as const;

type Status = Record<string, unknown>;

const SUCCESS: Status = { metadata: {}, status: 'Success' };

function nonZeroExit(protocol: string, argv: readonly string[], code: number): Status {
  const message =
    protocol === 'v5.channel.k8s.io'
      ? `command terminated with non-zero exit code: command terminated with exit code ${code}`
      : `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${code}`;
  return {
    metadata: {},
    status: 'Failure',
    message,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** The runtime's error wrapped the way kubelet and API server wrap it (fixtures 102, 103). */
function internalError(runtimeMessage: string): Status {
  const inner = `Internal error occurred: error executing command in container: ${runtimeMessage}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${inner}`,
    reason: 'InternalError',
    details: { causes: [{ message: inner }] },
    code: 500,
  };
}

const execFailed = (oci: string) =>
  `failed to exec in container: failed to start exec "${randomBytes(32).toString('hex')}": ${oci}`;

export interface ExecHandlerOptions {
  /** The subprotocols the endpoint accepts, in preference order: EXEC_PROTOCOLS, or EXEC_PROTOCOLS_V4_ONLY. */
  execProtocols?: readonly string[];
}

export function execHandler(backend: DockerPodBackend, opts: ExecHandlerOptions = {}): UpgradeHandler {
  const accepted = opts.execProtocols ?? EXEC_PROTOCOLS;
  return async (ctx: UpgradeContext) => {
    const { pod, query } = ctx;
    const containers: Array<{ name: string }> = pod.spec?.containers ?? [];
    const container = query.get('container') || containers[0]?.name || '';
    const podName = pod.metadata.name;
    if (!containers.some((c) => c.name === container)) {
      ctx.reject(400, badRequestStatus(`container ${container} is not valid for pod ${podName}`));
      return;
    }
    const stdin = boolParam(query, 'stdin');
    const stdout = boolParam(query, 'stdout');
    const stderr = boolParam(query, 'stderr');
    if (!stdin && !stdout && !stderr) {
      ctx.reject(400, badRequestStatus('you must specify at least 1 of stdin, stdout, stderr'));
      return;
    }
    if (!pod.spec?.nodeName) {
      ctx.reject(400, badRequestStatus(`pod ${podName} does not have a host assigned`));
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      ctx.reject(
        400,
        badRequestStatus(`cannot exec into a container in a completed pod; current phase is ${phase}`),
      );
      return;
    }
    if (phase !== 'Running') {
      ctx.reject(500, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `unable to upgrade connection: container not found ("${container}")`,
        reason: 'InternalError',
        code: 500,
      });
      return;
    }

    const offered = offeredProtocols(ctx.req);
    const protocol = accepted.find((p) => offered.includes(p));
    if (offered.length > 0 && !protocol) {
      ctx.reject(
        400,
        badRequestStatus(`unable to upgrade: no supported subprotocol in ${offered.join(',')}`),
      );
      return;
    }
    // v5 is answered by the API server, whose first frame never shared the 101's read (0/80, fixtures 010-015,
    // 022-024, 028-030); v4 goes through to the kubelet, whose first frame did in 29/80 (016-021, 025-027, 031-033).
    const ws = await ctx.accept(protocol, protocol === 'v5.channel.k8s.io' ? 'later' : 'with-upgrade');
    runExec(ws, protocol ?? 'channel.k8s.io', backend, ctx, { stdin, stdout, stderr });
  };
}

function runExec(
  ws: WebSocket,
  protocol: string,
  backend: DockerPodBackend,
  ctx: UpgradeContext,
  flags: { stdin: boolean; stdout: boolean; stderr: boolean },
): void {
  const send = (channel: number, data: Buffer | string) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([channel]), typeof data === 'string' ? Buffer.from(data) : data]));
  };
  const jsonStatus = protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
  let finished = false;
  const finish = (status: Status) => {
    if (finished) return;
    finished = true;
    if (jsonStatus) send(CH.error, goJson(status));
    else if (status.status !== 'Success') send(CH.error, String(status.message ?? ''));
    if (ws.readyState === ws.OPEN) ws.close(1000);
  };

  // Both the real API server and the kubelet start with an empty stdout frame.
  send(CH.stdout, Buffer.alloc(0));

  // The runtime's refusals come once the kubelet has asked it, after the first frame (fixtures 102, 103).
  const argv = ctx.query.getAll('command');
  if (argv.length === 0) {
    setImmediate(() =>
      finish(
        internalError(execFailed('OCI runtime exec failed: exec failed: args must not be empty: unknown')),
      ),
    );
    return;
  }
  if (!backend.engineFor(podKey(ctx.pod))) {
    setImmediate(() =>
      finish(
        internalError(
          `failed to exec in container: pod ${podKey(ctx.pod)} has no container runtime in this simulator (a virtual pod: only docker-host pods get one)`,
        ),
      ),
    );
    return;
  }

  const input = flags.stdin ? new PassThrough() : undefined;
  const endInput = () => {
    if (input && !input.writableEnded) input.end();
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const channel = data[0];
    if (channel === CH.stdin && input && !input.writableEnded) input.write(data.subarray(1));
    else if (channel === CH.close && protocol === 'v5.channel.k8s.io' && data[1] === CH.stdin) endInput();
    // Resize (4) has no terminal to act on: the simulator runs commands without a TTY.
  });
  // v4 and older have no close signal: stdin ends when the client closes the connection. The command runs
  // on (as under containerd), but its status has nowhere to go.
  ws.on('close', endInput);
  ws.on('error', () => {});

  let child: ReturnType<DockerPodBackend['exec']>;
  try {
    child = backend.exec(ctx.pod, argv, input);
  } catch (e) {
    finish(internalError(execFailed((e as Error).message)));
    return;
  }
  if (!input) child.stdin?.end();
  child.stdout?.on('data', (c: Buffer) => {
    if (flags.stdout) send(CH.stdout, c);
  });
  child.stderr?.on('data', (c: Buffer) => {
    if (flags.stderr) send(CH.stderr, c);
  });
  child.on('error', (err) => {
    finish(internalError(execFailed(err.message)));
  });
  child.on('close', (code, signal) => {
    const exit =
      code ?? (signal ? 128 + (osConstants.signals[signal as keyof typeof osConstants.signals] ?? 0) : 1);
    finish(exit === 0 ? SUCCESS : nonZeroExit(protocol, argv, exit));
  });
}
