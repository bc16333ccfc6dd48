/**
 * A server beyond a hop, for path-MTU tests: its own network namespace (an engine without dockerd, MTU 1500)
 * that pods reach through the host, serving one file over HTTP with busybox httpd. Its firewall drops the ICMP
 * "fragmentation needed" messages, as many paths through clouds, VPNs and corporate firewalls do: when a pod
 * network's MTU is smaller, the host drops the server's full-size packets and the server never learns why,
 * so a client that announced a larger MSS than its path carries waits for data that never comes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Engine, startEngine } from './engines.js';
import { collect } from './support.js';

export interface FarServer {
  /** http://<ip>:<port>/<file> */
  readonly url: string;
  readonly bytes: number;
  stop(): Promise<void>;
}

const PORT = 8000;
const FILE = 'big.bin';

export async function startFarServer(name: string, bytes: number): Promise<FarServer> {
  const engine: Engine = await startEngine({ name, dockerd: false });
  try {
    // The pod's upload directory is a host directory: the file is written from here, served from there.
    fs.writeFileSync(path.join(engine.podRoot, 'preevy', FILE), Buffer.alloc(bytes, 'x'));
    const rule = await collect(
      engine.exec([
        'iptables',
        '-A',
        'INPUT',
        '-p',
        'icmp',
        '--icmp-type',
        'fragmentation-needed',
        '-j',
        'DROP',
      ]),
    );
    if (rule.code !== 0) throw new Error(`iptables in ${engine.netns} failed: ${rule.stderr}`);
    engine.exec(['busybox', 'httpd', '-f', '-p', String(PORT), '-h', '/var/lib/preevy']);
    // Bounded wait for httpd to listen.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = engine.connect(PORT);
        s.on('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`httpd in ${engine.netns} did not listen on ${PORT}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    await engine.stop();
    throw err;
  }
  return { url: `http://${engine.ip}:${PORT}/${FILE}`, bytes, stop: () => engine.stop() };
}
