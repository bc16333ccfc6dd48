import { describe, expect, it } from 'vitest';
import type { ComposeModel } from '../../../src/compose/model.js';
import { checkComposePolicy, policyViolations } from '../../../src/compose/policy.js';
import { ActionError, InputError } from '../../../src/errors.js';
import { getInputs } from '../../../src/inputs.js';
import { thrownBy } from '../support.js';

const KUBECONFIG =
  'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: x\n';

/** The shapes `docker compose config --format json` prints for each key. */
const hostile: ComposeModel = {
  name: 'p',
  services: {
    root: {
      image: 'busybox',
      privileged: true,
      network_mode: 'host',
      pid: 'host',
      ipc: 'host',
      userns_mode: 'host',
      cap_add: ['SYS_ADMIN', 'NET_ADMIN'],
      security_opt: ['seccomp=unconfined', 'apparmor:unconfined', 'no-new-privileges:true', 'label=disable'],
      devices: [{ source: '/dev/kmsg', target: '/dev/kmsg', permissions: 'rwm' }],
    },
    sock: {
      image: 'docker',
      volumes: [
        { type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' },
        { type: 'bind', source: '/run/./docker.sock', target: '/d.sock' },
        { type: 'volume', source: 'hostroot', target: '/host' },
        { type: 'volume', source: 'data', target: '/data' },
      ],
    },
    builder: {
      build: { context: '/w', privileged: true, network: 'host', entitlements: ['security.insecure'] },
    },
    fine: {
      image: 'nginx',
      network_mode: 'service:root',
      security_opt: ['no-new-privileges:true'],
      cap_add: [],
      volumes: [{ type: 'bind', source: '/w/conf', target: '/etc/nginx/conf.d' }],
    },
  },
  volumes: {
    hostroot: { driver_opts: { type: 'none', o: 'bind', device: '/' } },
    data: { driver: 'local' },
  },
};

describe('policyViolations', () => {
  it('finds every setting that reaches the docker host, and nothing in an ordinary service', () => {
    const v = policyViolations(hostile).map((x) => `${x.service} ${x.key}=${x.value}`);
    expect(v).toEqual([
      'builder build.privileged=true',
      'builder build.network=host',
      'builder build.entitlements=security.insecure',
      'root privileged=true',
      'root network_mode=host',
      'root pid=host',
      'root ipc=host',
      'root userns_mode=host',
      'root devices=/dev/kmsg:/dev/kmsg:rwm',
      'root cap_add=SYS_ADMIN',
      'root cap_add=NET_ADMIN',
      'root security_opt=seccomp=unconfined',
      'root security_opt=apparmor:unconfined',
      'root security_opt=label=disable',
      'sock volumes=/var/run/docker.sock:/var/run/docker.sock',
      'sock volumes=/run/./docker.sock:/d.sock',
      'sock volumes=hostroot:/host (driver_opts device /)',
    ]);
  });
});

describe('checkComposePolicy', () => {
  it('permissive lets everything through', () => {
    expect(() => checkComposePolicy(hostile, 'permissive')).not.toThrow();
  });

  it('strict lists every violation by service, key and value, and says what to do', () => {
    const msg = thrownBy(ActionError, () => checkComposePolicy(hostile, 'strict')).userMessage;
    expect(msg).toContain('compose-policy is strict');
    expect(msg).toContain('service "root": privileged: true');
    expect(msg).toContain('service "root": cap_add: SYS_ADMIN');
    expect(msg).toContain('service "sock": volumes: /var/run/docker.sock:/var/run/docker.sock');
    expect(msg).toContain('service "builder": build.network: host');
    expect(msg.match(/^ {2}- /gm)).toHaveLength(17);
    expect(msg).toContain('compose-policy: permissive');
    expect(msg).not.toContain('"fine"');
  });

  it('strict accepts an ordinary project', () => {
    const ok: ComposeModel = { name: 'p', services: { fine: hostile.services.fine! } };
    expect(() => checkComposePolicy(ok, 'strict')).not.toThrow();
  });
});

describe('input compose-policy', () => {
  const source = (values: Record<string, string>) => (name: string) => values[name] ?? '';
  it('defaults to permissive, reads strict in any case, refuses anything else', () => {
    expect(getInputs(source({ kubeconfig: KUBECONFIG })).composePolicy).toBe('permissive');
    expect(getInputs(source({ kubeconfig: KUBECONFIG, 'compose-policy': ' Strict ' })).composePolicy).toBe(
      'strict',
    );
    const err = thrownBy(InputError, () =>
      getInputs(source({ kubeconfig: KUBECONFIG, 'compose-policy': 'paranoid' })),
    );
    expect(err.message).toBe('Input "compose-policy": "paranoid" is not one of permissive, strict');
  });
});
