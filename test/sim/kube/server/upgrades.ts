/** WebSocket upgrades of pods/exec|attach|portforward: handed to the registered kubelet handler, framed by `wire`. */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { type FirstFrames, shapeWire } from '../../kubelet/wire.js';
import { errors } from '../errors.js';
import type { CutAction } from '../faults.js';
import type { ResourceType } from '../types.js';
import { mustGet } from './reads.js';
import { errorReply, writeRaw } from './replies.js';
import type { Api, Ctx, Reply, ResourcePath, UpgradeKind } from './types.js';

export function upgradePod(api: Api, ctx: Ctx, p: ResourcePath): Reply | undefined {
  const up = ctx.upgrade as { socket: Duplex; head: Buffer };
  if (ctx.method !== 'GET' && ctx.method !== 'POST') throw errors.methodNotAllowed();
  const pod = mustGet(
    api,
    api.deps.store.types.find((x) => x.group === '' && x.resource === 'pods') as ResourceType,
    p,
  );
  const kind = p.subresource as UpgradeKind;
  const handler = api.deps.upgradeHandlers.get(kind);
  if (!handler)
    throw errors.badRequest(`pods/${kind} is not served by this simulator (no upgrade handler registered)`);
  const wss = api.upgrades.wss;
  const req = ctx.req;
  const cut = ctx.cut;
  const accept = (protocol: string | undefined, firstFrames: FirstFrames) =>
    new Promise<WebSocket>((resolve) => {
      if (protocol) api.upgrades.chosenProtocol.set(req, protocol);
      shapeWire(up.socket, firstFrames, api.deps.wire.mode, api.deps.wire.rand);
      wss.handleUpgrade(req, up.socket, up.head, (ws) => {
        if (cut) cutLater(ws, cut);
        resolve(ws);
      });
    });
  void Promise.resolve()
    .then(() =>
      handler({
        req,
        socket: up.socket,
        head: up.head,
        pod,
        query: ctx.url.searchParams,
        user: ctx.id.user.name,
        accept,
        reject: (status, body, contentType) => {
          ctx.entry.status = status;
          const reply: Reply = { status, body: body ?? '' };
          if (contentType !== undefined) reply.contentType = contentType;
          else if (typeof body !== 'object' || body === null) reply.contentType = 'text/plain; charset=utf-8';
          writeRaw(up.socket, reply);
        },
      }),
    )
    .catch((e: unknown) => {
      const reply = errorReply(e);
      ctx.entry.status = reply.status;
      if (!up.socket.destroyed) writeRaw(up.socket, reply);
    });
  return undefined;
}

/** Port-forward sends a 2-byte port prefix on its data and error channels first: 3 bytes each. */
const PORT_PREFIXES = 6;

/**
 * Destroys an accepted WebSocket mid-stream, as a kubelet restart or a load balancer's reset does: no close
 * frame, so the client sees 1006. Frames are sent whole until the next one would pass `afterBytes`.
 */
function cutLater(ws: WebSocket, cut: CutAction): void {
  let done = false;
  const kill = () => {
    if (done) return;
    done = true;
    ws.terminate();
  };
  if (cut.afterMs !== undefined) setTimeout(kill, cut.afterMs).unref();
  const limit = cut.afterBytes ?? (cut.afterMs === undefined ? PORT_PREFIXES : undefined);
  if (limit === undefined) return;
  let sent = 0;
  const send = ws.send.bind(ws) as (data: unknown, ...rest: unknown[]) => void;
  (ws as { send: (data: unknown, ...rest: unknown[]) => void }).send = (data, ...rest) => {
    if (done) return;
    const n =
      typeof data === 'string' ? Buffer.byteLength(data) : ((data as { length?: number }).length ?? 0);
    if (sent + n > limit) {
      kill();
      return;
    }
    sent += n;
    send(data, ...rest);
  };
}
