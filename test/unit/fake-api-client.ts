import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClient, type KubeClient } from '../../src/kube/client.js';
import { simCerts } from '../sim/kube/certs.js';

/** A KubeClient for a fake API server that serves the simulator's certificate and expects `token`. */
export function fakeApiClient(serverUrl: string, token: string, namespace = 'ns'): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: serverUrl,
        caData: Buffer.from(simCerts().caPem).toString('base64'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return createKubeClient(kc, { server: serverUrl, namespace });
}
