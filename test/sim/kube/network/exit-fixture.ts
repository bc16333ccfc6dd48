/**
 * Run by network.test.ts in a child process: uses the network (an Ingress, a LoadBalancer, open connections),
 * closes it and the simulator, and must then exit on its own; nothing calls process.exit.
 */
import net from 'node:net';
import { startKubeSim } from '../index.js';
import { installNetwork } from './index.js';
import { Api, eventually, rule, VirtualPods } from './test-support.js';

const sim = await startKubeSim({ namespaces: ['exit'] });
sim.pods.startDelayMs = 10;
sim.pods.readyDelayMs = 10;
const pods = new VirtualPods();
const network = await installNetwork(sim, pods.dial, { loadBalancerDelayMs: 10 });
const api = new Api(sim, 'exit');
await pods.serve('exit', 'web-1', 8080);
await api.pod('web-1', { app: 'web' });
await api.service('web', { app: 'web' }, [{ port: 80, targetPort: 8080 }], 'LoadBalancer');
await api.ingress('web', {
  tls: [{ hosts: ['tls.example.test'] }],
  rules: [
    rule('web.example.test', ['/', 'Prefix', 'web', 80]),
    rule('tls.example.test', ['/', 'Prefix', 'web', 80]),
  ],
});
const ip = await eventually(() => {
  const svc = sim.store.get({ group: '', resource: 'services', namespace: 'exit', name: 'web' });
  return (svc?.status?.loadBalancer?.ingress?.[0]?.ip as string) ?? Promise.reject(new Error('no address'));
});
const viaIngress = await eventually(async () => {
  const res = await network.fetch('http://web.example.test/');
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return res.status;
});
const viaLb = (await network.fetch(`http://${ip}/`)).status;
// Connections left open through both, as a keep-alive client leaves them.
const idle = [net.connect(80, ip), net.connect(network.ingress.httpPort, '127.0.0.1')];
for (const s of idle) s.on('error', () => {});
await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
// The https listener's certificate for a TLS host is made in the background: close while one is in the making.
void network.fetch('https://tls.example.test/').catch(() => {});

await sim.close();
await network.close();
await pods.close();
process.stdout.write(`closed ${viaIngress} ${viaLb}\n`);
