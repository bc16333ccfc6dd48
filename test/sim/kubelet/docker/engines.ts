/**
 * Real Docker engines for simulated docker-host pods.
 *
 * Each engine is one "pod": its own network namespace (a veth pair to the host: host 10.251.N.1, pod
 * 10.251.N.2) and its own private mount namespace in which a per-pod directory is bind-mounted on
 * /var/lib/preevy (the action's upload directory) and another on /run (so /var/run/docker.sock is the pod's
 * own). dockerd runs inside both namespaces, listening on that socket and on tcp://<tcpHost>:2375, where the
 * pod's container args say (0.0.0.0 like the docker:dind image by default; 127.0.0.1 in the bundled templates);
 * exec into the pod enters the same namespaces, so files that `tar x` writes are the files that the engine
 * bind-mounts into containers. Pods reach each other through the host, as on a pod network: the host ends of
 * the veths forward (per interface, so the host's own ip_forward stays as it is).
 *
 * Everything an engine makes is named by its index N, claimed per process under /tmp/preevy-sim-docker, so
 * engines of parallel test workers never collide and leftovers of a crashed run can be found and removed:
 *   netns preevy-sim-dN, veth psimdNh (host) / psimdNp (pod), dir /tmp/preevy-sim-docker/eN,
 *   cgroup preevy-sim-docker-N (dockerd, containerd, shims and every container process live below it).
 * The cgroup is what makes cleanup complete: killing every process in it kills the pod, and with the last
 * process the private mount namespace, and every mount dockerd made in it, goes away.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PodSocket, startRelay } from './relay.js';

export const SIM_DOCKER_ROOT = '/tmp/preevy-sim-docker';
export const DOCKER_PORT = 2375;
/** Upload directory of the action inside the docker-host pod. */
export const POD_UPLOAD_DIR = '/var/lib/preevy';
const CLAIMS_DIR = path.join(SIM_DOCKER_ROOT, 'claims');
const MAX_INDEX = 250; // third octet of the 10.251/10.252/10.253 addresses
const POD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EngineOptions {
  /** Free text (the simulator passes namespace/name); recorded in the claim for diagnostics. */
  name: string;
  /** Preferred index N (1..250); by default the lowest free one. A live claim on it is an error. */
  index?: number;
  /** false: the pod's namespaces exist (exec works) but no dockerd runs, so nothing answers on 2375. */
  dockerd?: boolean;
  /** Commands that exec reports as missing from the pod's image (e.g. ['tar']). */
  missingCommands?: readonly string[];
  /** Bound on dockerd start-up. */
  readyTimeoutMs?: number;
  /**
   * Where dockerd's TCP socket listens inside the pod: '0.0.0.0' (default, every address of the pod, so every
   * pod of the cluster can drive it) or '127.0.0.1' (the pod's loopback, reached only by port-forward).
   */
  tcpHost?: string;
  /** MTU of the pod's network interface (both ends of its veth): the pod network's. Default 1500. */
  mtu?: number;
  /**
   * The MTU dockerd gives its default bridge (BuildKit's RUN steps use it too) and every bridge network it
   * creates (compose's): 'pod' reads the pod's interface at start, as the bundled templates' start script does.
   * Default: dockerd's own, 1500.
   */
  dockerMtu?: number | 'pod';
}

export interface ExecOptions {
  /** Piped into the command's stdin; without it stdin stays open for the caller to write and end. */
  stdin?: Readable;
  env?: Record<string, string>;
}

export interface Engine {
  readonly name: string;
  readonly index: number;
  readonly netns: string;
  /** The pod's address (namespace side of the veth): published ports and 2375 answer here. */
  readonly ip: string;
  /** Host side of the veth. */
  readonly hostIp: string;
  /** Host path of the pod's /var/run/docker.sock (absent when dockerd is false). */
  readonly socketPath: string;
  readonly tcpPort: typeof DOCKER_PORT;
  /** Where dockerd's TCP socket listens inside the pod (see EngineOptions.tcpHost). */
  readonly tcpHost: string;
  /** Host directory holding the pod's files: preevy/ is its /var/lib/preevy, run/ its /run. */
  readonly podRoot: string;
  /** dockerd (or the placeholder process when dockerd is false); its namespaces are the pod's. */
  readonly pid: number;
  readonly dockerd: boolean;
  /** Resolves when the pod's main process exits, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** False once the main process exited or stop() was called. */
  isRunning(): boolean;
  /**
   * Runs argv in the pod's mount and network namespaces. A command missing from the pod fails like a spawn
   * of a missing file: 'error' with code ENOENT (message in the container runtime's words), then 'close'.
   */
  exec(argv: readonly string[], opts?: ExecOptions): ChildProcess;
  /** A TCP connection to dockerd's TCP socket, made inside the pod (works whatever tcpHost is). */
  connectDocker(): PodSocket;
  /** A TCP connection from the host to <ip>:<port>; a refused connection is an 'error' event. */
  connect(port: number): net.Socket;
  /**
   * A TCP connection made inside the pod's network namespace, to 127.0.0.1:<port> by default (what the kubelet's
   * port-forward does), or to any address (what a process of this pod would reach). A refused connection is an
   * 'error' event with code ECONNREFUSED.
   */
  connectInPod(port: number, host?: string): PodSocket;
  /** Kills every process of the pod, removes netns, veth, cgroups, mounts and directories. Idempotent. */
  stop(): Promise<void>;
}

interface Names {
  netns: string;
  vethHost: string;
  vethPod: string;
  cgroup: string;
  dir: string;
  claim: string;
  hostIp: string;
  ip: string;
}

function names(index: number): Names {
  return {
    netns: `preevy-sim-d${index}`,
    vethHost: `psimd${index}h`,
    vethPod: `psimd${index}p`,
    cgroup: `preevy-sim-docker-${index}`,
    dir: path.join(SIM_DOCKER_ROOT, `e${index}`),
    claim: path.join(CLAIMS_DIR, String(index)),
    hostIp: `10.251.${index}.1`,
    ip: `10.251.${index}.2`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Claims: one file per index, created with link(2) so that creation and content are one atomic step.

interface Claim {
  pid: number;
  start: string;
  name: string;
  nonce: string;
}

/** Process start time (clock ticks since boot): with the pid it tells a live owner from a reused pid. */
function procStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readClaim(file: string): { raw: string; claim?: Claim } | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return { raw, claim: JSON.parse(raw) as Claim };
  } catch {
    return { raw };
  }
}

function claimAlive(c: Claim | undefined): boolean {
  return c !== undefined && procStart(c.pid) === c.start;
}

function errCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err ? String(err.code) : undefined;
}

/** Takes index N for this process, replacing a claim whose owner is dead. */
function tryClaim(index: number, name: string): Claim | undefined {
  const n = names(index);
  const claim: Claim = {
    pid: process.pid,
    start: procStart(process.pid) ?? '',
    name,
    nonce: randomBytes(6).toString('hex'),
  };
  const tmp = path.join(CLAIMS_DIR, `.tmp-${process.pid}-${claim.nonce}`);
  fs.writeFileSync(tmp, JSON.stringify(claim));
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(tmp, n.claim);
        return claim;
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
      }
      const cur = readClaim(n.claim);
      if (cur === undefined) continue; // released meanwhile: try again
      if (claimAlive(cur.claim)) return undefined;
      // Stale. Move it aside atomically; if what we moved is not what we judged stale, another process
      // replaced it in between, and we put its fresh claim back.
      const aside = `${n.claim}.stale-${process.pid}-${claim.nonce}`;
      try {
        fs.renameSync(n.claim, aside);
      } catch (err) {
        if (errCode(err) === 'ENOENT') continue;
        throw err;
      }
      const moved = readClaim(aside);
      if (moved?.raw !== cur.raw) {
        try {
          fs.linkSync(aside, n.claim);
        } catch {
          // a third process claimed it meanwhile: either way it is not ours
        }
        fs.rmSync(aside, { force: true });
        return undefined;
      }
      fs.rmSync(aside, { force: true });
    }
    return undefined;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function releaseClaim(index: number, claim: Claim): void {
  const cur = readClaim(names(index).claim);
  if (cur?.claim?.nonce === claim.nonce) fs.rmSync(names(index).claim, { force: true });
}

// ---------------------------------------------------------------------------------------------------------
// cgroups

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The hierarchy in which dockerd is placed: v1 `pids` if mounted, else the v2 root. */
function trackingHierarchy(): string {
  if (fs.existsSync(`${CGROUP_ROOT}/pids/cgroup.procs`)) return `${CGROUP_ROOT}/pids`;
  if (fs.existsSync(`${CGROUP_ROOT}/cgroup.controllers`)) return CGROUP_ROOT;
  throw new Error('no cgroup hierarchy to track docker engines in (need cgroup v1 "pids" or cgroup v2)');
}

/** Every mounted hierarchy: docker creates container cgroups in each v1 controller. */
function allHierarchies(): string[] {
  if (fs.existsSync(`${CGROUP_ROOT}/cgroup.controllers`)) return [CGROUP_ROOT];
  try {
    return fs
      .readdirSync(CGROUP_ROOT)
      .map((d) => path.join(CGROUP_ROOT, d))
      .filter((d) => fs.existsSync(path.join(d, 'cgroup.procs')));
  } catch {
    return [];
  }
}

function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  let entries: fs.Dirent[];
  try {
    for (const line of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
      if (line) out.push(Number(line));
    }
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) out.push(...cgroupPids(path.join(dir, e.name)));
  return out;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Removes the engine's cgroup trees, deepest first; false while some are still busy. */
function removeCgroups(cgroup: string): boolean {
  let ok = true;
  const rm = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rm(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') ok = false;
    }
  };
  for (const h of allHierarchies()) rm(path.join(h, cgroup));
  return ok;
}

// ---------------------------------------------------------------------------------------------------------
// Teardown shared by stop(), the exit hook and the stale sweep.

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Pid from the pod's docker pidfile, if that process is still a dockerd (a crash may leave one outside). */
function pidfileDockerd(n: Names): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(n.dir, 'run', 'docker.pid'), 'utf8').trim());
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('dockerd') && cmd.includes(n.dir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function podPids(n: Names): number[] {
  const pids = cgroupPids(path.join(trackingHierarchy(), n.cgroup));
  const fromPidfile = pidfileDockerd(n);
  if (fromPidfile !== undefined) pids.push(fromPidfile);
  return pids;
}

function killPodSync(n: Names, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = podPids(n);
    if (pids.length === 0 || Date.now() > deadline) return;
    killAll(pids);
    sleepSync(20);
  }
}

async function killPod(n: Names, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = podPids(n);
    if (pids.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`processes of ${n.cgroup} survived SIGKILL: ${pids.join(' ')}`);
    killAll(pids);
    await sleep(20);
  }
}

function ipQuiet(args: string[], input?: string): void {
  spawnSync('ip', args, { input, stdio: ['pipe', 'ignore', 'ignore'] });
}

/** Everything but the processes, which must be dead already. Missing pieces are fine. */
function removeNetAndFiles(n: Names): void {
  // Deleting the host end removes the pair at once; deleting only the netns frees it asynchronously.
  ipQuiet(['link', 'del', n.vethHost]);
  if (fs.existsSync(`/run/netns/${n.netns}`)) ipQuiet(['netns', 'del', n.netns]);
  fs.rmSync(n.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}

function teardownSync(n: Names): void {
  killPodSync(n, 5_000);
  for (let i = 0; i < 50 && !removeCgroups(n.cgroup); i++) sleepSync(20);
  removeNetAndFiles(n);
}

let swept = false;
/** Runs cleanStale once per process, before its first engine starts. */
function sweepStale(): void {
  if (swept) return;
  swept = true;
  cleanStale();
}

/**
 * Removes what crashed runs left: every index whose claim owner is dead, or that has resources but no claim
 * (processes found through the cgroup and the docker pidfile, netns, veth, cgroups, directory).
 * Returns the indices cleaned.
 */
export function cleanStale(): number[] {
  fs.mkdirSync(CLAIMS_DIR, { recursive: true });
  const cleaned: number[] = [];
  const indices = new Set<number>();
  const add = (re: RegExp, list: string[]) => {
    for (const s of list) {
      const m = re.exec(s);
      if (m?.[1]) indices.add(Number(m[1]));
    }
  };
  const ls = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  add(/^(\d+)$/, ls(CLAIMS_DIR));
  add(/^e(\d+)$/, ls(SIM_DOCKER_ROOT));
  add(/^preevy-sim-d(\d+)$/, ls('/run/netns'));
  add(/^preevy-sim-docker-(\d+)$/, ls(trackingHierarchy()));
  add(/^psimd(\d+)h$/, ls('/sys/class/net'));
  for (const index of indices) {
    if (claimAlive(readClaim(names(index).claim)?.claim)) continue;
    const claim = tryClaim(index, 'stale-sweep');
    if (!claim) continue;
    teardownSync(names(index));
    releaseClaim(index, claim);
    cleaned.push(index);
  }
  // Temporary claim files of dead processes.
  for (const f of ls(CLAIMS_DIR)) {
    const m = /^\.tmp-(\d+)-|\.stale-(\d+)-/.exec(f);
    const pid = Number(m?.[1] ?? m?.[2]);
    if (m && procStart(pid) === undefined) fs.rmSync(path.join(CLAIMS_DIR, f), { force: true });
  }
  return cleaned;
}

// ---------------------------------------------------------------------------------------------------------
// Engines

interface Live {
  names: Names;
  claim: Claim;
  index: number;
}
const live = new Map<number, Live>();

/** Best effort if the process exits with engines running (a test that forgot close()). */
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of live.values()) {
      try {
        teardownSync(l.names);
        releaseClaim(l.index, l.claim);
      } catch {
        // the next run's sweep gets the rest
      }
    }
  });
}

function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
    );
    child.stdin.end(input);
  });
}

function daemonArgs(n: Names, index: number, tcpHost: string, mtu: number | undefined): string[] {
  const mtuArgs =
    mtu === undefined
      ? []
      : [`--mtu=${mtu}`, `--default-network-opt=bridge=com.docker.network.driver.mtu=${mtu}`];
  return [
    'dockerd',
    ...mtuArgs,
    // Our own (empty) config: a daemon.json on the host must not leak into the pods.
    `--config-file=${n.dir}/daemon.json`,
    `--data-root=${n.dir}/docker`,
    '--exec-root=/run/docker',
    '--pidfile=/run/docker.pid',
    '-H',
    'unix:///run/docker.sock',
    '-H',
    `tcp://${tcpHost}:${DOCKER_PORT}`,
    '--tls=false',
    // Started by the wrapper beforehand: a dockerd-managed containerd costs ~1 s more at start-up.
    '--containerd=/run/containerd/containerd.sock',
    // Distinct per engine although each has its own netns: addresses then tell engines apart in logs.
    `--bip=10.252.${index}.1/24`,
    '--default-address-pool',
    `base=10.253.${index}.0/24,size=28`,
    `--cgroup-parent=/${n.cgroup}/ctr`,
  ];
}

function containerdConfig(n: Names): string {
  return [
    'version = 2',
    `root = "${n.dir}/docker/containerd"`,
    'state = "/run/containerd"',
    // The CRI plugin is for kubelets; dockerd's managed containerd disables it too.
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    '  address = "/run/containerd/containerd.sock"',
    '',
  ].join('\n');
}

/**
 * Runs inside the new namespaces: join the pod's cgroup, mount the pod's directories, start containerd in the
 * background (dockerd's one-second wait for non-TLS TCP covers its start-up), then become the main process.
 */
const POD_INIT = `set -e
procs=$1; root=$2; shift 2
echo $$ > "$procs"
mount --bind "$root/preevy" ${POD_UPLOAD_DIR}
mount --bind "$root/run" /run
if [ "$1" = dockerd ]; then containerd --config "$root/containerd.toml" & fi
exec "$@"
`;

export async function startEngine(opts: EngineOptions): Promise<Engine> {
  fs.mkdirSync(CLAIMS_DIR, { recursive: true });
  sweepStale();
  let index: number | undefined;
  let claim: Claim | undefined;
  if (opts.index !== undefined) {
    if (!Number.isInteger(opts.index) || opts.index < 1 || opts.index > MAX_INDEX) {
      throw new Error(`engine index must be 1..${MAX_INDEX}, got ${opts.index}`);
    }
    claim = tryClaim(opts.index, opts.name);
    if (!claim) {
      const owner = readClaim(names(opts.index).claim)?.claim;
      throw new Error(`engine index ${opts.index} is in use by pid ${owner?.pid} (${owner?.name})`);
    }
    index = opts.index;
  } else {
    for (let i = 1; i <= MAX_INDEX && !claim; i++) {
      claim = tryClaim(i, opts.name);
      if (claim) index = i;
    }
    if (!claim || index === undefined) throw new Error(`all ${MAX_INDEX} engine slots are in use`);
  }
  const n = names(index);
  const l: Live = { names: n, claim, index };
  live.set(index, l);
  installExitHook();
  try {
    // A crash between claim and cleanup of an earlier owner may have left pieces behind.
    teardownSync(n);
    return await launch(opts, index, n, () => {
      live.delete(index);
      releaseClaim(index, l.claim);
    });
  } catch (err) {
    teardownSync(n);
    live.delete(index);
    releaseClaim(index, claim);
    throw err;
  }
}

async function launch(opts: EngineOptions, index: number, n: Names, release: () => void): Promise<Engine> {
  const withDockerd = opts.dockerd ?? true;
  const missing = new Set(opts.missingCommands ?? []);
  for (const d of ['preevy', 'run', 'docker']) fs.mkdirSync(path.join(n.dir, d), { recursive: true });
  const podPath = missing.size > 0 ? pathWithout(path.join(n.dir, 'bin'), missing) : POD_PATH;
  fs.writeFileSync(path.join(n.dir, 'daemon.json'), '{}\n');
  fs.writeFileSync(path.join(n.dir, 'containerd.toml'), containerdConfig(n));
  // The bind-mount target; it stays an empty directory on the host.
  fs.mkdirSync(POD_UPLOAD_DIR, { recursive: true });

  const tracking = path.join(trackingHierarchy(), n.cgroup);
  fs.mkdirSync(path.join(tracking, 'daemon'), { recursive: true });

  await run('ip', ['-batch', '-'], `netns add ${n.netns}\n`);
  await run(
    'ip',
    ['-batch', '-'],
    [
      `link add ${n.vethHost} type veth peer name ${n.vethPod} netns ${n.netns}`,
      `addr add ${n.hostIp}/24 dev ${n.vethHost}`,
      `link set ${n.vethHost} mtu ${opts.mtu ?? 1500}`,
      `link set ${n.vethHost} up`,
      '',
    ].join('\n'),
  );
  // Pod-to-pod traffic is routed by the host. IPv4 forwarding is decided by the interface a packet came in on,
  // so turning it on for this veth alone routes between pods without touching the host's other interfaces;
  // it goes away with the veth.
  fs.writeFileSync(`/proc/sys/net/ipv4/conf/${n.vethHost}/forwarding`, '1\n');
  await run(
    'ip',
    ['-n', n.netns, '-batch', '-'],
    [
      'link set lo up',
      `addr add ${n.ip}/24 dev ${n.vethPod}`,
      `link set ${n.vethPod} mtu ${opts.mtu ?? 1500}`,
      `link set ${n.vethPod} up`,
      `route add default via ${n.hostIp}`,
      '',
    ].join('\n'),
  );

  // In the pod's cgroup, so that every teardown path (stop, a failed start, the stale sweep) kills it too.
  const relay = startRelay(`/run/netns/${n.netns}`, () => {});
  fs.mkdirSync(path.join(tracking, 'relay'), { recursive: true });
  fs.writeFileSync(path.join(tracking, 'relay', 'cgroup.procs'), `${relay.pid}\n`);

  const logPath = path.join(n.dir, 'dockerd.log');
  const logFd = fs.openSync(logPath, 'a');
  const tcpHost = opts.tcpHost ?? '0.0.0.0';
  // What the template's start script reads from the pod's interface.
  const dockerMtu = opts.dockerMtu === 'pod' ? podMtu(n) : opts.dockerMtu;
  const main = withDockerd ? daemonArgs(n, index, tcpHost, dockerMtu) : ['sleep', 'infinity'];
  // Not `ip netns exec`: it remounts /sys, after which dockerd finds no devices cgroup.
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${n.netns}`,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      POD_INIT,
      'pod-init',
      path.join(tracking, 'daemon', 'cgroup.procs'),
      n.dir,
      ...main,
    ],
    { stdio: ['ignore', logFd, logFd], env: { PATH: POD_PATH, HOME: '/root' } },
  );
  fs.closeSync(logFd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn nsenter');

  const logTail = () => {
    try {
      return fs.readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  await Promise.race([
    relay.ready,
    sleep(Math.max(0, deadline - Date.now())).then(() => {
      throw new Error(`the netns helper of ${opts.name} did not start`);
    }),
  ]);
  if (withDockerd) {
    // Through TCP inside the pod, the way the action's port-forward reaches it: the unix socket may answer a
    // moment earlier.
    for (;;) {
      if (hasExited) throw new Error(`dockerd of ${opts.name} exited during start-up:\n${logTail()}`);
      if (await ping(() => relay.connect('127.0.0.1', DOCKER_PORT), Math.max(100, deadline - Date.now())))
        break;
      if (Date.now() > deadline)
        throw new Error(`dockerd of ${opts.name} did not answer /_ping:\n${logTail()}`);
      await sleep(50);
    }
  } else {
    // The placeholder has exec'd (so the mounts are done) once its command name is sleep.
    const ownMnt = fs.readlinkSync('/proc/self/ns/mnt');
    for (;;) {
      if (hasExited) throw new Error(`pod of ${opts.name} exited during start-up:\n${logTail()}`);
      try {
        const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (comm === 'sleep' && fs.readlinkSync(`/proc/${pid}/ns/mnt`) !== ownMnt) break;
      } catch {
        // not there yet
      }
      if (Date.now() > deadline) throw new Error(`pod of ${opts.name} did not start:\n${logTail()}`);
      await sleep(10);
    }
  }

  const execs = new Set<ChildProcess>();
  let stopping: Promise<void> | undefined;

  const engine: Engine = {
    name: opts.name,
    index,
    netns: n.netns,
    ip: n.ip,
    hostIp: n.hostIp,
    socketPath: path.join(n.dir, 'run', 'docker.sock'),
    tcpPort: DOCKER_PORT,
    tcpHost,
    podRoot: n.dir,
    pid,
    dockerd: withDockerd,
    exited,
    isRunning: () => !hasExited && !stopping,
    exec(argv, execOpts = {}) {
      if (stopping || hasExited) throw new Error(`pod ${opts.name} is not running`);
      const [cmd] = argv;
      if (!cmd) throw new Error('exec needs a command');
      const child =
        missing.has(path.posix.basename(cmd)) || !resolveInPod(pid, cmd)
          ? missingCommand(cmd)
          : spawn('nsenter', ['--target', String(pid), '--mount', '--net', '--', ...argv], {
              env: { PATH: podPath, HOME: '/root', ...execOpts.env },
              stdio: 'pipe',
            });
      execs.add(child);
      child.on('close', () => execs.delete(child));
      // In the pod's cgroup as its other processes are: a long-running command (a server started by a test) then
      // dies with the pod on every teardown path, the stale sweep of a crashed run's leftovers included. Left
      // outside, it would keep the pod's private mounts alive after its directory was reused.
      if (child.pid !== undefined) {
        try {
          fs.mkdirSync(path.join(tracking, 'exec'), { recursive: true });
          fs.writeFileSync(path.join(tracking, 'exec', 'cgroup.procs'), `${child.pid}\n`);
        } catch {
          // It exited already.
        }
      }
      // The command may exit without reading all input (or never start): EPIPE is its business, not a crash.
      child.stdin?.on('error', () => {});
      if (execOpts.stdin && child.stdin) execOpts.stdin.pipe(child.stdin);
      return child;
    },
    connectDocker() {
      return relay.connect('127.0.0.1', DOCKER_PORT);
    },
    connect(port) {
      return net.connect({ host: n.ip, port });
    },
    connectInPod(port, host = '127.0.0.1') {
      return relay.connect(host, port);
    },
    stop() {
      stopping ??= (async () => {
        for (const c of execs) c.kill('SIGKILL');
        relay.stop();
        // dockerd, containerd, shims and containers are all in the cgroup: SIGKILL is enough, since the data
        // root goes too, and is much faster than a graceful stop (httpd as PID 1 ignores SIGTERM for 10 s).
        await killPod(n, 10_000);
        await Promise.race([exited, sleep(5_000)]);
        for (let i = 0; i < 100 && !removeCgroups(n.cgroup); i++) await sleep(20);
        removeNetAndFiles(n);
        release();
      })();
      return stopping;
    },
  };
  return engine;
}

/** The MTU of the pod's side of its veth, as a process in the pod reads it from /sys/class/net/eth0/mtu. */
function podMtu(n: Names): number {
  const out = spawnSync('ip', ['-n', n.netns, '-o', 'link', 'show', n.vethPod], { encoding: 'utf8' }).stdout;
  const mtu = Number(/ mtu (\d+)/.exec(out ?? '')?.[1]);
  if (!Number.isInteger(mtu) || mtu <= 0)
    throw new Error(`cannot read the MTU of ${n.vethPod} in ${n.netns}`);
  return mtu;
}

/** GET /_ping over TCP; false on any failure. */
function ping(connect: () => PodSocket, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect();
    let data = '';
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    sock.on('error', () => done(false));
    sock.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
    sock.on('data', (c: Buffer) => {
      data += c.toString();
    });
    sock.on('end', () => done(/^HTTP\/1\.\d 200/.test(data) && data.endsWith('OK')));
  });
}

/** Looks the command up as the pod would: through the pod's root and PATH. */
function resolveInPod(pid: number, cmd: string): boolean {
  const candidates = cmd.includes('/') ? [cmd] : POD_PATH.split(':').map((d) => path.posix.join(d, cmd));
  return candidates.some((c) => {
    const p = `/proc/${pid}/root${path.posix.resolve('/', c)}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * A missing command must be missing for the shells the exec runs too (`sh -c 'tar ...'` looks tar up on
 * PATH): the pod's PATH becomes one directory of links to everything on POD_PATH but the missing commands.
 */
function pathWithout(dir: string, missing: ReadonlySet<string>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const d of POD_PATH.split(':').reverse()) {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (missing.has(name)) continue;
      const link = path.join(dir, name);
      fs.rmSync(link, { force: true });
      fs.symlinkSync(path.join(d, name), link);
    }
  }
  return dir;
}

/**
 * A child process that fails to start, like node's spawn of a missing file: 'error' (code ENOENT) then
 * 'close'. The message is the container runtime's, as a real cluster's exec reports it.
 */
function missingCommand(cmd: string): ChildProcess {
  const message = cmd.includes('/')
    ? `OCI runtime exec failed: exec failed: unable to start container process: exec: "${cmd}": stat ${cmd}: no such file or directory: unknown`
    : `OCI runtime exec failed: exec failed: unable to start container process: exec: "${cmd}": executable file not found in $PATH: unknown`;
  const child = spawn(path.join(SIM_DOCKER_ROOT, 'missing', cmd.replaceAll('/', '_')), [], { stdio: 'pipe' });
  child.prependListener('error', (err) => {
    err.message = message;
  });
  return child;
}
