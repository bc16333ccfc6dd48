import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { type DecideOptions, decide, type EventInfo, withoutSecrets } from '../../../src/github/event.js';
import { thrownBy } from '../support.js';

const base: DecideOptions = { command: 'auto', allowPullRequestTarget: false };
const pr = (action: string, over: Partial<NonNullable<EventInfo['pr']>> = {}, label?: string): EventInfo => ({
  name: 'pull_request',
  action,
  repository: 'o/r',
  label,
  pr: {
    number: 7,
    headSha: 'a'.repeat(40),
    headRef: 'feature',
    baseRef: 'main',
    repository: 'o/r',
    state: action === 'closed' ? 'closed' : 'open',
    labels: [],
    fromFork: false,
    ...over,
  },
});

describe('decide', () => {
  it.each(['opened', 'synchronize', 'reopened'])('pull_request %s gives up', (a) =>
    expect(decide(base, pr(a)).command).toBe('up'),
  );
  it('pull_request closed gives down, merged or not', () => {
    expect(decide(base, pr('closed')).command).toBe('down');
    expect(decide(base, pr('closed', { merged: true })).command).toBe('down');
  });
  it('other pull_request actions do nothing and say why', () => {
    expect(decide(base, pr('edited'))).toEqual({
      command: 'skip',
      reason: 'nothing to do for pull_request "edited"',
    });
  });
  it('an explicit command wins over the event', () => {
    expect(decide({ ...base, command: 'down' }, pr('opened')).command).toBe('down');
    expect(decide({ ...base, command: 'up' }, { name: 'workflow_dispatch', repository: 'o/r' }).command).toBe(
      'up',
    );
  });
  it('auto on another event asks for an explicit command', () => {
    expect(() => decide(base, { name: 'push', repository: 'o/r' })).toThrow(
      /is "auto", and the event push is not a pull request/,
    );
  });

  describe('with required-label', () => {
    const opts = { ...base, requiredLabel: 'preview' };
    it('labeled with the label deploys; other labels change nothing', () => {
      expect(decide(opts, pr('labeled', { labels: ['preview'] }, 'preview')).command).toBe('up');
      expect(decide(opts, pr('labeled', { labels: ['preview', 'bug'] }, 'bug')).command).toBe('skip');
    });
    it('unlabeled deletes', () => {
      expect(decide(opts, pr('unlabeled', { labels: [] }, 'preview')).command).toBe('down');
    });
    it('pushes to a labelled PR deploy; to an unlabelled one, nothing happens and the notice says why', () => {
      expect(decide(opts, pr('synchronize', { labels: ['preview'] })).command).toBe('up');
      const d = decide(opts, pr('synchronize'));
      expect(d).toMatchObject({ command: 'skip' });
      expect(d.reason).toMatch(/does not carry the label "preview"/);
    });
    it("a closed PR's state wins over its label: closing deletes, labelling a merged PR does not deploy", () => {
      expect(decide(opts, pr('closed', { labels: ['preview'], merged: true })).command).toBe('down');
      expect(decide(opts, pr('labeled', { labels: ['preview'], state: 'closed' }, 'preview')).command).toBe(
        'skip',
      );
    });
  });

  it('pull_request_target is refused unless allowed, and says why', () => {
    const target = { ...pr('opened'), name: 'pull_request_target' };
    const err = thrownBy(InputError, () => decide(base, target));
    expect(err.input).toBe('allow-pull-request-target');
    expect(err.userMessage).toMatch(/hands the cluster to whoever opened the PR/);
    expect(decide({ ...base, allowPullRequestTarget: true }, target).command).toBe('up');
  });
});

describe('withoutSecrets', () => {
  it('explains a fork PR with an empty kubeconfig, and nothing else', () => {
    expect(withoutSecrets(pr('opened', { fromFork: true }), '')).toMatch(/comes from a fork/);
    expect(withoutSecrets(pr('opened', { fromFork: true }), 'apiVersion: v1')).toBeUndefined();
    expect(withoutSecrets(pr('opened'), '')).toBeUndefined();
  });

  it("explains Dependabot's run without a kubeconfig, on up and down events alike", () => {
    const dependabot = (action: string) => ({ ...pr(action), actor: 'dependabot[bot]' });
    expect(withoutSecrets(dependabot('opened'), '')).toMatch(/triggered by Dependabot/);
    expect(withoutSecrets(dependabot('closed'), ' ')).toMatch(/triggered by Dependabot/);
    // A Dependabot secret, or the job's own kubeconfig: the run goes on.
    expect(withoutSecrets(dependabot('opened'), 'apiVersion: v1')).toBeUndefined();
    expect(withoutSecrets({ ...pr('opened'), actor: 'alice' }, '')).toBeUndefined();
  });
});
