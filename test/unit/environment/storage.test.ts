import { describe, expect, it } from 'vitest';
import { buildPruneQuery } from '../../../src/bridge/prune.js';
import {
  cacheKeepBytes,
  DEFAULT_STORAGE_SIZE,
  diskFullError,
  evictedForSize,
  watchDiskFull,
} from '../../../src/environment/storage.js';
import { ActionError, errorMessage, InputError } from '../../../src/errors.js';
import { getInputs } from '../../../src/inputs.js';
import { formatBytes, parseByteQuantity } from '../../../src/util/quantity.js';
import { thrownBy } from '../support.js';

const KUBECONFIG =
  'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: x\n';
const source = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('parseByteQuantity', () => {
  it.each([
    ['20Gi', 20 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['100G', 100e9],
    ['64k', 64_000],
    ['1Ti', 2 ** 40],
    ['5e9', 5e9],
    ['1048576', 1_048_576],
    [' 8Gi ', 8 * 2 ** 30],
  ])('%j is %d bytes', (text, bytes) => expect(parseByteQuantity(text)).toBe(bytes));

  it.each(['', '20GB', '20gi', '20 Gi', 'Gi', '-1Gi', '0', '0Gi', '500m', '1Ki5', 'twenty', '1.Gi'])(
    'rejects %j',
    (text) => expect(parseByteQuantity(text)).toBeUndefined(),
  );

  it('formats bytes for the log', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(10 * 2 ** 30)).toBe('10 GiB');
    expect(formatBytes(1.25 * 2 ** 20)).toBe('1.3 MiB');
    expect(formatBytes(300 * 2 ** 20)).toBe('300 MiB');
  });
});

describe('input storage-size', () => {
  it('defaults to 20Gi and keeps the text as given for the template', () => {
    expect(getInputs(source({ kubeconfig: KUBECONFIG })).storage).toEqual({
      size: '20Gi',
      bytes: 20 * 2 ** 30,
    });
    expect(getInputs(source({ kubeconfig: KUBECONFIG, 'storage-size': '50G' })).storage).toEqual({
      size: '50G',
      bytes: 50e9,
    });
  });

  it('refuses a size that is not a Kubernetes quantity, naming the input, with an example', () => {
    const err = thrownBy(InputError, () =>
      getInputs(source({ kubeconfig: KUBECONFIG, 'storage-size': '20GB' })),
    );
    expect(err.input).toBe('storage-size');
    expect(errorMessage(err)).toMatch(/Input "storage-size": "20GB" is not a Kubernetes quantity/);
    expect(errorMessage(err)).toMatch(/20Gi/);
  });
});

describe('the prune keeps half of storage-size for the build cache', () => {
  it('sends the keep amount under every name the Docker API versions read', () => {
    expect(cacheKeepBytes(DEFAULT_STORAGE_SIZE)).toBe(10 * 2 ** 30);
    const q = new URLSearchParams(buildPruneQuery(cacheKeepBytes({ size: '3Mi', bytes: 3 * 2 ** 20 })));
    expect(Object.fromEntries(q)).toEqual({
      'keep-storage': '1572864',
      'reserved-space': '1572864',
      'max-used-space': '1572864',
    });
  });
});

describe('diskFullError', () => {
  const storage = { size: '8Gi', bytes: 8 * 2 ** 30 };

  it('says a build that found no space is the environment disk, and what to do', () => {
    const build = new ActionError(
      'docker compose build failed:\n#7 ERROR: failed to copy files: write /var/lib/docker/tmp/x: no space left on device\nfailed to solve: ...',
      { logs: '#7 ERROR: failed to copy files: write /var/lib/docker/tmp/x: no space left on device' },
    );
    const err = diskFullError(build, storage);
    expect(err).toBeInstanceOf(ActionError);
    expect(err!.message).toMatch(
      /^The environment's disk is full \(storage-size 8Gi\): #7 ERROR: .*no space left on device$/m,
    );
    // The build's own lines stay: they say which step hit it.
    expect(err!.message).toContain('docker compose build failed:');
    expect(err!.hint).toMatch(/Raise the storage-size input \(now 8Gi\)/);
    expect(err!.hint).toMatch(/keeps at most 4 GiB of build cache/);
    expect(err!.logs).toBe(build.logs);
  });

  it('recognizes an upload or a container that hit ENOSPC', () => {
    expect(diskFullError(new Error('tar: write error: No space left on device'), storage)).toBeDefined();
    expect(diskFullError(new Error('ENOSPC: write failed'), storage)).toBeDefined();
  });

  it('leaves any other failure alone', () => {
    expect(
      diskFullError(new ActionError('docker compose build failed:\nRUN false'), storage),
    ).toBeUndefined();
    expect(diskFullError('connection reset', storage)).toBeUndefined();
  });
});

/** A pod as the kubelet leaves it after an eviction: phase Failed, reason Evicted, its message (helpers.go). */
const evicted = (message: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'shop-pr-7-x9y8z-dind-5d9c7-abcde', namespace: 'previews' },
  status: { phase: 'Failed', reason: 'Evicted', message },
});

describe('a docker host pod evicted above its storage limits', () => {
  const storage = { size: '20Gi', bytes: 20 * 2 ** 30 };

  it.each([
    'Usage of EmptyDir volume "docker-data" exceeds the limit "20Gi". ',
    'Pod ephemeral local storage usage exceeds the total limit of containers 20Gi. ',
    'Container docker exceeded its local ephemeral storage limit "20Gi". ',
  ])('%j is the environment disk being full', (message) => {
    const line = evictedForSize(evicted(message));
    expect(line).toBe(`The kubelet evicted pod shop-pr-7-x9y8z-dind-5d9c7-abcde: ${message.trim()}`);
    // What the deploy itself saw was only a lost connection.
    const err = diskFullError(new Error('error during connect: EOF'), storage, [line!]);
    expect(err?.message).toMatch(
      /^The environment's disk is full \(storage-size 20Gi\): The kubelet evicted pod/,
    );
    expect(err?.hint).toMatch(/Raise the storage-size input \(now 20Gi\)/);
  });

  it('leaves a node that ran low on disk, and a running pod, alone', () => {
    expect(
      evictedForSize(evicted('The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi. ')),
    ).toBeUndefined();
    expect(evictedForSize({ ...evicted(''), status: { phase: 'Running' } })).toBeUndefined();
    expect(evictedForSize(undefined)).toBeUndefined();
  });
});

describe('watchDiskFull', () => {
  it('passes the log through and remembers the lines that say the disk is full', () => {
    const lines: string[] = [];
    const log = {
      info: (m: string) => void lines.push(m),
      warning: (m: string) => void lines.push(`w: ${m}`),
      debug: () => {},
    };
    const watch = watchDiskFull(log);
    watch.log.info('#5 [app 2/2] RUN make');
    watch.log.info("#5 0.365 dd: error writing '/t/fill': No space left on device");
    watch.log.warning('something else');
    expect(lines).toHaveLength(3);
    expect(watch.lines()).toEqual(["#5 0.365 dd: error writing '/t/fill': No space left on device"]);
    // The build failure's own message has only compose's stderr: the line comes from the output.
    const err = diskFullError(
      new ActionError(
        'docker compose build failed:\nfailed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 1',
        {
          logs: 'failed to solve: ...',
        },
      ),
      { size: '4Gi', bytes: 4 * 2 ** 30 },
      watch.lines(),
    );
    expect(err?.message).toMatch(
      /^The environment's disk is full \(storage-size 4Gi\): #5 0.365 dd: .*No space left on device\ndocker compose build failed:/,
    );
    expect(err?.logs).toBe(
      "#5 0.365 dd: error writing '/t/fill': No space left on device\nfailed to solve: ...",
    );
  });
});
