/*
 * The sandbox's child (see sandbox.ts): one job as JSON on stdin, its result as JSON on stdout. Built as its
 * own small bundle (dist/render/index.js) so that it starts fast and reads nothing of the action's code.
 */
import { readFileSync } from 'node:fs';
import { TemplateError } from '../errors.js';
import { renderCommentInProcess, renderInProcess } from './engine.js';
import type { SandboxFailure, SandboxJob, SandboxResult } from './sandbox.js';

function failure(err: unknown): SandboxFailure {
  if (!(err instanceof TemplateError)) return { reason: `cannot render the template: ${String(err)}` };
  const prefix = `${err.file}${err.line === undefined ? '' : `:${err.line}`}: `;
  return {
    reason: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message,
    file: err.file,
    line: err.line,
    hint: err.hint,
    details: err.details,
  };
}

let result: SandboxResult;
try {
  const job = JSON.parse(readFileSync(0, 'utf8')) as SandboxJob;
  const text = job.kind === 'comment' ? renderCommentInProcess(job) : renderInProcess(job);
  result = { ok: true, text };
} catch (err) {
  result = { ok: false, error: failure(err) };
}
process.stdout.write(JSON.stringify(result));
