import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DownResult } from '../../src/commands/down.js';
import { down } from '../../src/commands/down.js';
import { type UpResult, up } from '../../src/commands/up.js';
import { leaseName } from '../../src/environment/lock.js';
import { gitHubApi } from '../../src/github/api.js';
import type { EventInfo } from '../../src/github/event.js';
import { pullRequestReader } from '../../src/github/pulls.js';
import type { PrReporter } from '../../src/github/report.js';
import type { Command, Inputs } from '../../src/inputs.js';
import { reporterFor, runDown, runUp } from '../../src/main.js';
import type { GitHubSim } from '../sim/github/index.js';
import type { KubeSim } from '../sim/kube/index.js';
import type { SimObject } from '../sim/kube/types.js';
import {
  bookkeeping,
  type CapturedLog,
  captureLog,
  envObjects,
  expectRejects,
  inputsFor,
  NAMESPACE,
  pullRequestEvent,
  startJobGitHub,
  startSim,
} from './harness.js';

const OWNER = 'acme';
const REPO = 'shop';
const TOKEN = 'ghs_concurrency_tests_token_0001';
const RENDERED = ['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceAccount'];
const FAST = { pollMs: 50 };
const sha = (c: string) => c.repeat(40);

/**
 * The concurrency rule (src/commands/guard.ts, README "Concurrency"), in process: up() and down() with the PR
 * reporter and the PR reader as main.ts wires them, against the Kubernetes simulator (no engines: these
 * environments have no compose project) and the GitHub simulator.
 */
describe('concurrency: the environment lock, tombstones and the PR check', () => {
  let sim: KubeSim;
  let gh: GitHubSim;
  let apiUrl: string | undefined;
  let runNumber = 5000;

  beforeAll(async () => {
    sim = await startSim();
    gh = await startJobGitHub({ owner: OWNER, repo: REPO }, TOKEN, { secondaryRateLimit: false });
    apiUrl = process.env.GITHUB_API_URL;
    process.env.GITHUB_API_URL = gh.url;
  });
  afterAll(async () => {
    if (apiUrl === undefined) delete process.env.GITHUB_API_URL;
    else process.env.GITHUB_API_URL = apiUrl;
    await gh?.close();
    await sim?.close();
  });

  const pr = (n: number, head: string, state: 'open' | 'closed' = 'open') =>
    gh.addPullRequest({ owner: OWNER, repo: REPO, number: n, headSha: head, state });

  function prEvent(n: number, action: string, head: string): EventInfo {
    return pullRequestEvent(n, action, head, runNumber++);
  }

  interface RunOptions {
    action: string;
    head: string;
    /** With a GitHub token (comment, deployments, the PR check); default true. */
    github?: boolean;
    /** What happens meanwhile, right after the up posted "deploying". */
    onDeploying?: () => Promise<void>;
    log?: CapturedLog;
    command?: Command;
    inputs?: Partial<Inputs>;
  }

  function wiring(n: number, o: RunOptions) {
    const github = o.github ?? true;
    const api = github ? gitHubApi(TOKEN) : undefined;
    const inputs = inputsFor(sim, {
      githubToken: github ? TOKEN : undefined,
      githubEnvironment: 'pr-{number}',
      command: o.command ?? 'auto',
      ...o.inputs,
    });
    const event = prEvent(n, o.action, o.head);
    const envId = `shop-pr-${n}`;
    const log = o.log ?? captureLog();
    const ctx = {
      envId,
      event,
      log,
      phase: <T>(_name: string, fn: () => Promise<T>) => fn(),
      lockTiming: FAST,
      pullRequest: pullRequestReader(api, `${OWNER}/${REPO}`, n),
    };
    return { inputs, ctx, reporter: withHook(reporterFor(inputs, event, envId, n, api), o.onDeploying), log };
  }

  /** The reporter, whose "deploying" is followed by `hook`: the moment the up has the lock and goes on. */
  function withHook(reporter: PrReporter, hook: (() => Promise<void>) | undefined): PrReporter {
    if (!hook) return reporter;
    const post = reporter.deploying.bind(reporter);
    reporter.deploying = async () => {
      await post();
      await hook();
    };
    return reporter;
  }

  /** An up as main.ts runs it: up posts "deploying" through the reporter, then runUp the outcome. */
  async function upRun(n: number, o: RunOptions): Promise<{ result: UpResult; log: CapturedLog }> {
    const w = wiring(n, o);
    return { result: await runUp(w.inputs, w.ctx, w.reporter), log: w.log };
  }

  async function downRun(
    n: number,
    o: Omit<RunOptions, 'action'> & { action?: string },
  ): Promise<{ result: DownResult; log: CapturedLog }> {
    const w = wiring(n, { action: 'closed', ...o });
    return { result: await runDown(w.inputs, w.ctx, w.reporter), log: w.log };
  }

  const ours = (n: number) =>
    (gh.comments(OWNER, REPO, n) as Array<{ body: string; user: { login: string } }>).filter(
      (c) => c.user.login === 'github-actions[bot]',
    );
  const commentWrites = (n: number) =>
    gh.audit.filter(
      (e) => /^issues\/(create|update)-comment$/.test(e.operationId ?? '') && e.path.includes(`/${n}/`),
    ).length;
  const kinds = (n: number) => [...envObjects(sim, `shop-pr-${n}`).keys()].map((k) => k.split('/')[0]).sort();
  const hostOf = (n: number) =>
    [...envObjects(sim, `shop-pr-${n}`).values()].find((o) => o.kind === 'Deployment');
  const lines = (log: CapturedLog) => log.lines.join('\n');

  /** Resolves once the environment's Lease is held by someone. */
  async function leaseHeld(envId: string): Promise<SimObject> {
    for (let i = 0; i < 400; i++) {
      const lease = bookkeeping(sim, envId).lease;
      if ((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity) return lease as SimObject;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the lease of ${envId} was never held`);
  }

  async function until(what: string, cond: () => boolean): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if (cond()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting until ${what}`);
  }

  it('two ups of one PR started at once: one instance, one set of objects, one comment, both succeed', async () => {
    pr(1, sha('a'));
    const [a, b] = await Promise.all([
      upRun(1, { action: 'opened', head: sha('a') }),
      upRun(1, { action: 'opened', head: sha('a') }),
    ]);
    expect([a.result.outcome, b.result.outcome]).toEqual(['ready', 'ready']);
    expect(a.result.id).toBe(b.result.id);
    expect([a.result.created, b.result.created].sort()).toEqual([false, true]);
    expect(kinds(1)).toEqual(RENDERED);
    expect(ours(1)).toHaveLength(1);
    expect(ours(1)[0]!.body).toContain('The preview environment is ready');
    // The second run waited behind the first, and said for whom.
    const waited = [a.log, b.log].find((l) => /is locked by/.test(lines(l)));
    expect(lines(waited!)).toMatch(
      /Environment shop-pr-1 is locked by the up of https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+ \(holder local\/1\/\d+\/[0-9a-f]{6} on \S+\), since \S+, renewed/,
    );
    // The Lease stays with the environment, free.
    const { lease, tombstone } = bookkeeping(sim, 'shop-pr-1');
    expect(lease?.metadata.name).toBe('preevy-shop-pr-1');
    expect(lease?.metadata.labels).toMatchObject({
      'preevy.dev/env-id': 'shop-pr-1',
      'preevy.dev/lock': 'true',
    });
    expect(lease?.spec).toBeDefined();
    expect((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity).toBeUndefined();
    expect(tombstone).toBeUndefined();
    expect(gh.violations).toEqual([]);
  });

  describe('an up and a down of one PR racing: afterwards no environment and a tombstone', () => {
    it('started at once, with the PR closed on GitHub', async () => {
      pr(2, sha('b'));
      await upRun(2, { action: 'opened', head: sha('b') });
      pr(2, sha('b'), 'closed');
      const [u, d] = await Promise.all([
        upRun(2, { action: 'synchronize', head: sha('b') }),
        downRun(2, { head: sha('b') }),
      ]);
      expect(u.result.outcome).toBe('stopped');
      expect(d.result.deleted.length).toBeGreaterThan(0);
      expect(envObjects(sim, 'shop-pr-2').size).toBe(0);
      expect(bookkeeping(sim, 'shop-pr-2')).toMatchObject({ lease: undefined, tombstone: expect.anything() });
      expect(ours(2)).toHaveLength(1);
      expect(ours(2)[0]!.body).toContain('was deleted');
    });

    it('started at once, without GitHub (the lock orders them; either order ends the same)', async () => {
      await upRun(3, { action: 'opened', head: sha('c'), github: false });
      const [u, d] = await Promise.all([
        upRun(3, { action: 'synchronize', head: sha('d'), github: false }),
        downRun(3, { head: sha('d'), github: false }),
      ]);
      expect(['ready', 'stopped']).toContain(u.result.outcome);
      expect(d.result.tombstone).toBe('preevy-tombstone-shop-pr-3');
      expect(envObjects(sim, 'shop-pr-3').size).toBe(0);
      expect(bookkeeping(sim, 'shop-pr-3')).toMatchObject({ lease: undefined, tombstone: expect.anything() });
    });

    it('the up holds the lock first: the down waits for it, then deletes what it deployed', async () => {
      let downing: Promise<{ result: DownResult; log: CapturedLog }> | undefined;
      const downLog = captureLog();
      const u = await upRun(4, {
        action: 'opened',
        head: sha('e'),
        github: false,
        onDeploying: async () => {
          downing = downRun(4, { head: sha('e'), github: false, log: downLog });
          await until('the down waits', () => /is locked by/.test(lines(downLog)));
        },
      });
      expect(u.result.outcome).toBe('ready');
      const d = await downing!;
      expect(lines(d.log)).toMatch(
        /Environment shop-pr-4 is locked by the up of https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+/,
      );
      expect(d.result.deleted.sort()).toEqual(u.result.objects.map((o) => o.ref).sort());
      expect(envObjects(sim, 'shop-pr-4').size).toBe(0);
      expect(bookkeeping(sim, 'shop-pr-4')).toMatchObject({ lease: undefined, tombstone: expect.anything() });
    });

    it('the down holds the lock first: a synchronize up waits, then stops; a reopened up waits, then deploys', async () => {
      pr(5, sha('f'));
      await upRun(5, { action: 'opened', head: sha('f') });
      // The down's tombstone write is slowed down, so the up surely arrives while the down holds the lock.
      sim.faults.next(1, { method: 'POST', path: /\/configmaps$/ }, { type: 'latency', ms: 600 });
      const downing = downRun(5, { head: sha('f') });
      await leaseHeld('shop-pr-5');
      const late = await upRun(5, { action: 'synchronize', head: sha('f'), github: false });
      await downing;
      expect(late.result.outcome).toBe('stopped');
      expect(lines(late.log)).toMatch(/is locked by the down of/);
      expect(late.result.notice).toMatch(/^Environment shop-pr-5 was deleted when PR #5 was closed/);
      expect(envObjects(sim, 'shop-pr-5').size).toBe(0);

      // The PR is reopened meanwhile: its up, started while another down holds the lock, deploys after it. That down
      // finds nothing to delete and writes nothing: its first lookup is slowed down instead.
      sim.faults.next(1, { method: 'GET', path: /\/deployments$/ }, { type: 'latency', ms: 600 });
      const downAgain = downRun(5, { head: sha('f') });
      await leaseHeld('shop-pr-5');
      const reopened = await upRun(5, { action: 'reopened', head: sha('f') });
      await downAgain;
      expect(reopened.result.outcome).toBe('ready');
      expect(kinds(5)).toEqual(RENDERED);
      expect(bookkeeping(sim, 'shop-pr-5').tombstone).toBeUndefined();
      expect(ours(5)[0]!.body).toContain('is ready');
      await downRun(5, { head: sha('f') });
    });
  });

  it('a late synchronize after the close creates nothing and says why; reopened deploys again', async () => {
    pr(6, sha('1'));
    const first = await upRun(6, { action: 'opened', head: sha('1') });
    pr(6, sha('1'), 'closed');
    await downRun(6, { head: sha('1') });
    const writes = commentWrites(6);

    // Without GitHub: the tombstone alone stops it.
    const noToken = await upRun(6, { action: 'synchronize', head: sha('1'), github: false });
    expect(noToken.result.outcome).toBe('stopped');
    expect(noToken.result.notice).toMatch(
      /Environment shop-pr-6 was deleted when PR #6 was closed \(.*head 111111111111.*\)\. Not deploying it again for "synchronize": nothing was created/,
    );
    // With GitHub: the PR is closed.
    const withToken = await upRun(6, { action: 'synchronize', head: sha('1') });
    expect(withToken.result.outcome).toBe('stopped');
    expect(withToken.result.notice).toBe(
      'PR #6 is closed: environment shop-pr-6 is not deployed, and nothing was created or changed.',
    );
    expect(envObjects(sim, 'shop-pr-6').size).toBe(0);
    expect(bookkeeping(sim, 'shop-pr-6').lease).toBeUndefined();
    const tomb = bookkeeping(sim, 'shop-pr-6').tombstone;
    expect(tomb?.metadata.annotations).toMatchObject({
      'preevy.dev/tombstone-reason': 'closed',
      'preevy.dev/head-sha': sha('1'),
      'preevy.dev/pr': '6',
    });
    expect(tomb?.metadata.annotations?.['preevy.dev/tombstoned-at']).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The PR's comment still says deleted: a run that stops posts nothing.
    expect(commentWrites(6)).toBe(writes);
    expect(ours(6)[0]!.body).toContain('was deleted');

    pr(6, sha('2'));
    const reopened = await upRun(6, { action: 'reopened', head: sha('2') });
    expect(reopened.result.outcome).toBe('ready');
    expect(reopened.result.created).toBe(true);
    expect(reopened.result.id).not.toBe(first.result.id);
    expect(kinds(6)).toEqual(RENDERED);
    expect(bookkeeping(sim, 'shop-pr-6').tombstone).toBeUndefined();
    expect(ours(6)).toHaveLength(1);
    expect(ours(6)[0]!.body).toContain('is ready');
    expect(gh.violations).toEqual([]);
  });

  describe('a PR closed while its up deploys: the up removes what it made', () => {
    it('closed on GitHub during the deploy', async () => {
      pr(7, sha('3'));
      const u = await upRun(7, {
        action: 'opened',
        head: sha('3'),
        onDeploying: async () => void pr(7, sha('3'), 'closed'),
      });
      expect(u.result.outcome).toBe('removed');
      expect(u.result.notice).toBe(
        'PR #7 was closed while this run deployed environment shop-pr-7: the environment is removed again, and a tombstone left, as a down does.',
      );
      expect(envObjects(sim, 'shop-pr-7').size).toBe(0);
      const { lease, tombstone } = bookkeeping(sim, 'shop-pr-7');
      expect(lease).toBeUndefined();
      expect(tombstone?.metadata.annotations?.['preevy.dev/tombstone-reason']).toBe('closed');
      expect(ours(7)).toHaveLength(1);
      expect(ours(7)[0]!.body).toContain('was deleted');
      const deployments = gh.deployments(OWNER, REPO, { environment: 'pr-7' });
      expect(deployments).toHaveLength(1);
      expect(deployments[0]!.statuses.map((s) => s.state)).toEqual(['inactive', 'in_progress']);
      // The closed run's down comes after: nothing left to delete, and the tombstone stays.
      const d = await downRun(7, { head: sha('3') });
      expect(d.result.deleted).toEqual([]);
      expect(bookkeeping(sim, 'shop-pr-7').tombstone).toBeDefined();
    });

    it('a tombstone written during the deploy (a down that did not take the lock)', async () => {
      let written: SimObject | undefined;
      const u = await upRun(8, {
        action: 'opened',
        head: sha('4'),
        github: false,
        onDeploying: async () => {
          written = sim.store.create({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: 'preevy-tombstone-shop-pr-8',
              namespace: NAMESPACE,
              labels: { 'preevy.dev/env-id': 'shop-pr-8', 'preevy.dev/tombstone': 'true' },
              annotations: { 'preevy.dev/tombstone-reason': 'closed', 'preevy.dev/pr': '8' },
            } as never,
          });
        },
      });
      expect(u.result.outcome).toBe('removed');
      expect(u.result.notice).toMatch(
        /^Environment shop-pr-8 was deleted when PR #8 was closed .* while this run deployed it/,
      );
      expect(envObjects(sim, 'shop-pr-8').size).toBe(0);
      // The tombstone that was there is left as it was.
      expect(bookkeeping(sim, 'shop-pr-8').tombstone?.metadata.uid).toBe(written?.metadata.uid);
      expect(bookkeeping(sim, 'shop-pr-8').tombstone?.metadata.resourceVersion).toBe(
        written?.metadata.resourceVersion,
      );
    });
  });

  describe('a newer head commit', () => {
    it('before the deploy: the older commit does nothing', async () => {
      pr(9, sha('6'));
      const u = await upRun(9, { action: 'synchronize', head: sha('5') });
      expect(u.result.outcome).toBe('stopped');
      expect(u.result.notice).toBe(
        "PR #9's head is now 666666666666, not this run's 555555555555: the newer commit's run deploys environment shop-pr-9; this run changed nothing.",
      );
      expect(envObjects(sim, 'shop-pr-9').size).toBe(0);
      expect(ours(9)).toHaveLength(0);
      expect(gh.deployments(OWNER, REPO, { environment: 'pr-9' })).toHaveLength(0);
    });

    it('during the deploy: the environment stays, the comment says a newer commit is deploying, then its run makes it ready', async () => {
      pr(10, sha('7'));
      const older = await upRun(10, {
        action: 'opened',
        head: sha('7'),
        onDeploying: async () => void pr(10, sha('8')),
      });
      expect(older.result.outcome).toBe('superseded');
      expect(older.result.headSha).toBe(sha('8'));
      expect(kinds(10)).toEqual(RENDERED);
      expect(ours(10)).toHaveLength(1);
      const body = ours(10)[0]!.body;
      expect(body).toContain('A newer commit is deploying');
      expect(body).not.toContain('The preview environment is ready');
      expect(body).toContain("the PR's head is now `888888888888`");
      let deployments = gh.deployments(OWNER, REPO, { environment: 'pr-10' });
      expect(deployments.map((d) => [d.sha, d.statuses[0]!.state])).toEqual([[sha('7'), 'inactive']]);

      const newer = await upRun(10, { action: 'synchronize', head: sha('8') });
      expect(newer.result.outcome).toBe('ready');
      expect(newer.result.id).toBe(older.result.id);
      expect(ours(10)).toHaveLength(1);
      expect(ours(10)[0]!.body).toContain('is ready');
      expect(ours(10)[0]!.body).toContain('`888888888888`');
      deployments = gh.deployments(OWNER, REPO, { environment: 'pr-10' });
      expect(deployments.map((d) => [d.sha, d.statuses[0]!.state])).toEqual([
        [sha('8'), 'success'],
        [sha('7'), 'inactive'],
      ]);
      expect(gh.violations).toEqual([]);
    });
  });

  describe('the lock', () => {
    const lease = (n: number, spec: Record<string, unknown>, annotations: Record<string, string> = {}) =>
      sim.store.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: leaseName(`shop-pr-${n}`),
          namespace: NAMESPACE,
          labels: {
            'preevy.dev/env-id': `shop-pr-${n}`,
            'app.kubernetes.io/managed-by': 'preevy-kube-action',
            'preevy.dev/lock': 'true',
          },
          annotations,
        } as never,
        spec,
      });
    const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

    it('a stale Lease of a crashed run is taken over', async () => {
      lease(11, {
        holderIdentity: '77/1/4242/dead00',
        leaseDurationSeconds: 60,
        acquireTime: micro(Date.now() - 11 * 60_000),
        renewTime: micro(Date.now() - 10 * 60_000),
        leaseTransitions: 0,
      });
      const started = Date.now();
      const u = await upRun(11, { action: 'opened', head: sha('9'), github: false });
      expect(u.result.outcome).toBe('ready');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(lines(u.log)).toMatch(
        /Took over the lock of environment shop-pr-11 from a run \(holder 77\/1\/4242\/dead00\), since .*, renewed 10m\d+s ago: it was not renewed for 60 s/,
      );
      const after = bookkeeping(sim, 'shop-pr-11').lease?.spec as Record<string, unknown>;
      expect(after.holderIdentity).toBeUndefined();
      expect(after.leaseTransitions).toBe(1);
      expect(after.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    });

    it('a held Lease makes the run wait, and its log names the holder', async () => {
      const held = lease(
        12,
        {
          holderIdentity: '99/2/31337/beef00',
          leaseDurationSeconds: 60,
          acquireTime: micro(Date.now()),
          renewTime: micro(Date.now()),
          leaseTransitions: 3,
        },
        {
          'preevy.dev/lock-command': 'down',
          'preevy.dev/lock-run': 'https://github.com/acme/shop/actions/runs/99',
        },
      );
      const log = captureLog();
      const running = upRun(12, { action: 'opened', head: sha('a'), github: false, log });
      await until('the run reports the holder', () => /is locked by/.test(lines(log)));
      expect(lines(log)).toMatch(
        /Environment shop-pr-12 is locked by the down of https:\/\/github\.com\/acme\/shop\/actions\/runs\/99 \(holder 99\/2\/31337\/beef00\), since \S+, renewed [\d.]+m?s ago: waiting up to [\d.]+s for it\./,
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(envObjects(sim, 'shop-pr-12').size).toBe(0);
      // The holder releases it.
      const current = bookkeeping(sim, 'shop-pr-12').lease!;
      const { holderIdentity: _, ...free } = current.spec as Record<string, unknown>;
      sim.store.update({ ...current, spec: free });
      const u = await running;
      expect(u.result.outcome).toBe('ready');
      expect(kinds(12)).toEqual(RENDERED);
      expect(bookkeeping(sim, 'shop-pr-12').lease?.metadata.uid).toBe(held.metadata.uid);
    });

    it('a Lease held past ready-timeout fails the run, names the holder, and creates nothing', async () => {
      lease(13, {
        holderIdentity: '55/1/100/cafe00',
        leaseDurationSeconds: 3600,
        renewTime: micro(Date.now()),
      });
      const w = wiring(13, {
        action: 'opened',
        head: sha('b'),
        github: false,
        inputs: { readyTimeoutMs: 400 },
      });
      const err = await expectRejects(up(w.inputs, w.ctx));
      expect(err.message).toMatch(
        /^Timed out after [\d.]+m?s waiting for the lock of environment shop-pr-13 \(Lease\/preevy-shop-pr-13 in namespace previews\): it is held by a run \(holder 55\/1\/100\/cafe00\), renewed/,
      );
      expect(envObjects(sim, 'shop-pr-13').size).toBe(0);
      expect(
        (bookkeeping(sim, 'shop-pr-13').lease?.spec as { holderIdentity?: string } | undefined)
          ?.holderIdentity,
      ).toBe('55/1/100/cafe00');
    });

    it("a down deletes its own Lease and leaves its tombstone, and never touches another environment's", async () => {
      await upRun(14, { action: 'opened', head: sha('c'), github: false });
      await upRun(15, { action: 'opened', head: sha('d'), github: false });
      await upRun(16, { action: 'opened', head: sha('e'), github: false });
      const w16 = wiring(16, { action: 'closed', head: sha('e'), github: false });
      await down(w16.inputs, w16.ctx);
      const neighbours = {
        lease15: bookkeeping(sim, 'shop-pr-15').lease?.metadata.resourceVersion,
        tomb16: bookkeeping(sim, 'shop-pr-16').tombstone?.metadata.resourceVersion,
        host15: hostOf(15)?.metadata.resourceVersion,
      };
      expect(neighbours.lease15).toBeDefined();
      expect(neighbours.tomb16).toBeDefined();
      const d = await downRun(14, { head: sha('c'), github: false });
      expect(d.result.deleted.some((r) => /Lease|tombstone/.test(r))).toBe(false);
      expect(bookkeeping(sim, 'shop-pr-14')).toMatchObject({
        lease: undefined,
        tombstone: expect.anything(),
      });
      expect({
        lease15: bookkeeping(sim, 'shop-pr-15').lease?.metadata.resourceVersion,
        tomb16: bookkeeping(sim, 'shop-pr-16').tombstone?.metadata.resourceVersion,
        host15: hostOf(15)?.metadata.resourceVersion,
      }).toEqual(neighbours);
      // A second down finds nothing to delete, and changes nothing: the tombstone stays as it was.
      const tomb14 = bookkeeping(sim, 'shop-pr-14').tombstone?.metadata.resourceVersion;
      const again = await downRun(14, { head: sha('c'), github: false });
      expect(again.result).toMatchObject({ deleted: [], tombstone: undefined });
      expect(bookkeeping(sim, 'shop-pr-14')).toMatchObject({ lease: undefined });
      expect(bookkeeping(sim, 'shop-pr-14').tombstone?.metadata.resourceVersion).toBe(tomb14);
    });
  });
});
