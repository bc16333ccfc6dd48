/**
 * Images for the engines. Nothing can be pulled on our machines, so the only base image is one built
 * FROM scratch around the static busybox of Debian's busybox-static package, tagged so that compose files
 * can say `image: busybox:local` or `FROM busybox:local`.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { type DockerTarget, dockerJson, dockerRequest, parseProgress } from './api.js';
import { tarStream } from './tar.js';

export const BUSYBOX_IMAGE = 'busybox:local';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

// /tmp and /root exist in the real busybox image; tools and tests expect them.
const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /root && chmod 1777 /tmp"]
CMD ["sh"]
`;

/** Anything with the engine's unix socket. */
type HasSocket = { socketPath: string };

function target(engine: HasSocket): DockerTarget {
  return { socketPath: engine.socketPath };
}

/** True when the ELF file has no program interpreter, i.e. runs in an empty image. */
function isStaticElf(file: string): boolean {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) return false; // ELF, 64-bit
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (buf.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  }
  return true;
}

let busyboxPath: string | undefined;
/** The static busybox binary; a dynamic one would fail inside the image with a puzzling "no such file". */
export function findStaticBusybox(): string {
  if (busyboxPath) return busyboxPath;
  for (const p of BUSYBOX_CANDIDATES) {
    if (fs.existsSync(p) && isStaticElf(p)) {
      busyboxPath = p;
      return p;
    }
  }
  throw new Error(
    `no static busybox in ${BUSYBOX_CANDIDATES.join(' or ')}: install busybox-static (scripts/setup.sh)`,
  );
}

export async function imageExists(engine: HasSocket, ref: string): Promise<boolean> {
  const res = await dockerRequest(target(engine), 'GET', `/images/${encodeURIComponent(ref)}/json`);
  return res.status === 200;
}

/**
 * Builds a context tar with the classic builder (version=1): it needs no BuildKit session, so one HTTP
 * request does it. Returns the image id.
 */
export async function buildImage(engine: HasSocket, context: Readable, tag: string): Promise<string> {
  const res = await dockerRequest(
    target(engine),
    'POST',
    `/build?version=1&rm=1&forcerm=1&t=${encodeURIComponent(tag)}`,
    { body: context, contentType: 'application/x-tar', timeoutMs: 120_000 },
  );
  if (res.status >= 400) throw new Error(`build of ${tag} failed: ${res.body.toString('utf8')}`);
  const lines = parseProgress(res.body, `build of ${tag}`);
  const aux = lines.map((l) => l.aux as { ID?: string } | undefined).find((a) => a?.ID);
  if (!aux?.ID) throw new Error(`build of ${tag} reported no image id`);
  return aux.ID;
}

/**
 * Builds busybox:local (or `tag`) in the engine unless it is there already. The context is streamed from
 * disk with fixed metadata, so rebuilding it hits the cache. Returns whether a build ran.
 */
export async function ensureBusyboxImage(engine: HasSocket, tag = BUSYBOX_IMAGE): Promise<boolean> {
  if (await imageExists(engine, tag)) return false;
  const bin = findStaticBusybox();
  const context = tarStream([
    { type: 'file', name: 'Dockerfile', data: DOCKERFILE },
    { type: 'file', name: 'busybox', path: bin, size: fs.statSync(bin).size, mode: 0o755 },
  ]);
  await buildImage(engine, context, tag);
  return true;
}

/** `docker load` of an image archive (docker save format). Returns the loaded references. */
export async function loadImage(engine: HasSocket, archive: Readable): Promise<string[]> {
  const res = await dockerRequest(target(engine), 'POST', '/images/load?quiet=1', {
    body: archive,
    contentType: 'application/x-tar',
    timeoutMs: 120_000,
  });
  if (res.status >= 400) throw new Error(`image load failed: ${res.body.toString('utf8')}`);
  return parseProgress(res.body, 'image load')
    .map((l) =>
      typeof l.stream === 'string' ? /Loaded image(?: ID)?: (\S+)/.exec(l.stream)?.[1] : undefined,
    )
    .filter((r): r is string => r !== undefined);
}

/** Image ids and tags present in the engine (for assertions). */
export async function listImages(engine: HasSocket): Promise<string[]> {
  const images = await dockerJson<Array<{ Id: string; RepoTags?: string[] | null }>>(
    target(engine),
    'GET',
    '/images/json',
  );
  return images.flatMap((i) => [i.Id, ...(i.RepoTags ?? [])]);
}
