import { readFileSync } from 'node:fs';
import type { ServiceUrl } from '../compose/urls.js';
import { TemplateError } from '../errors.js';
import { renderInSandbox } from '../template/sandbox.js';
import { codeBlock, mdLink, mdText, tail } from './markdown.js';

export type EnvState = 'deploying' | 'ready' | 'failed' | 'deleted' | 'superseded';

export interface PhaseTiming {
  name: string;
  ms: number;
}

/** Everything a comment (or the job summary) says about one environment at one moment. */
export interface EnvReport {
  state: EnvState;
  envId: string;
  namespace: string;
  prNumber?: number;
  sha?: string;
  runUrl?: string;
  urls: ServiceUrl[];
  phases: PhaseTiming[];
  /** The error for `failed`. */
  error?: string;
  /** The last log lines of the failing services or build, for `failed`. */
  logs?: string;
  /** For `superseded`: the PR's head now, whose run updates the environment. */
  newerSha?: string;
  at: Date;
}

/** Found again by this marker (and the author): one comment per environment, updated in place. */
export function commentMarker(envId: string): string {
  return `<!-- preevy-kube-action env-id="${envId.replace(/[^a-z0-9-]/g, '')}" -->`;
}

const TITLE: Record<EnvState, string> = {
  deploying: '⏳ Deploying the preview environment',
  ready: '✅ The preview environment is ready',
  failed: '❌ The preview environment failed to deploy',
  deleted: '🗑️ The preview environment was deleted',
  superseded: '⏩ A newer commit is deploying',
};

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The URL table; never rendered empty (no published ports gives a sentence instead). */
export function urlTable(urls: ServiceUrl[]): string {
  if (urls.length === 0) return '';
  const rows = urls.map((u) => `| ${mdText(u.service)} | ${u.port} | ${mdLink(u.url)} |`);
  return ['| service | port | URL |', '|---|---|---|', ...rows].join('\n');
}

export function phaseLine(phases: PhaseTiming[]): string {
  const total = phases.reduce((s, p) => s + p.ms, 0);
  return `${phases.map((p) => `${mdText(p.name)} ${seconds(p.ms)}`).join(' · ')} (total ${seconds(total)})`;
}

/** The bundled comment, markdown, with the marker first. */
export function commentBody(r: EnvReport): string {
  const lines: string[] = [commentMarker(r.envId), `### ${TITLE[r.state]}`, ''];
  const meta = [
    `Environment \`${r.envId}\` in namespace \`${r.namespace}\``,
    r.sha ? `commit \`${r.sha.slice(0, 12)}\`` : undefined,
    r.runUrl ? mdLink(r.runUrl, 'workflow run') : undefined,
  ].filter(Boolean);
  lines.push(meta.join(' · '), '');
  if (r.state === 'ready') {
    if (r.urls.length > 0) lines.push(urlTable(r.urls), '');
    else
      lines.push(
        'The services run, and none is exposed: no published ports, or `expose: none` without a domain.',
        '',
      );
    if (r.phases.length > 0) lines.push(`<sub>${phaseLine(r.phases)}, at ${r.at.toISOString()}</sub>`);
  } else if (r.state === 'failed') {
    lines.push(codeBlock(tail(r.error ?? 'unknown error', 40, 6_000)), '');
    if (r.logs) {
      lines.push(
        '<details><summary>Last log lines</summary>',
        '',
        codeBlock(tail(r.logs, 60)),
        '',
        '</details>',
        '',
      );
    }
    lines.push(
      'The next push retries. The environment, if it was created, stays for inspection until the PR closes.',
    );
  } else if (r.state === 'superseded') {
    lines.push(
      `This run deployed commit \`${(r.sha ?? 'unknown').slice(0, 12)}\`, and the PR's head is now \`${(r.newerSha ?? 'unknown').slice(0, 12)}\`: its run updates the environment, and this comment when it is ready.`,
    );
  } else if (r.state === 'deploying') {
    lines.push(`Started at ${r.at.toISOString()}. This comment is updated when the deploy ends.`);
  } else {
    lines.push(`Every object of the environment was deleted at ${r.at.toISOString()}.`);
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/**
 * A user's comment template (input `comment-template`), nunjucks, rendering markdown. Its variables are the
 * report's, with PR-derived text already escaped (`url.service`), and the ready-made pieces `urlTable` and
 * `phases`. The marker is added in front, so the template cannot lose it.
 */
export function customCommentBody(file: string, r: EnvReport): string {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TemplateError(`cannot read the comment template: ${String(err)}`, file);
  }
  // Rendered in the sandbox (template/sandbox.ts): the template gets these values as data, and no secret.
  const vars: Record<string, unknown> = {
    state: r.state,
    envId: r.envId,
    namespace: r.namespace,
    prNumber: r.prNumber,
    sha: r.sha,
    runUrl: r.runUrl,
    urls: r.urls.map((u) => ({ ...u, service: mdText(u.service) })),
    urlTable: urlTable(r.urls),
    phases: r.phases.length ? phaseLine(r.phases) : '',
    error: r.error ? codeBlock(tail(r.error, 40, 6_000)) : '',
    logs: r.logs ? codeBlock(tail(r.logs, 60)) : '',
    newerSha: r.newerSha ?? '',
    at: r.at.toISOString(),
  };
  const body = renderInSandbox({ kind: 'comment', file, source, vars }, []);
  return `${commentMarker(r.envId)}\n${body}`;
}
