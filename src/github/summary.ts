import * as core from '@actions/core';
import { commentBody, commentMarker, type EnvReport } from './comment-text.js';

/** The job summary: the comment's text, so the run page and the PR say the same. */
export async function writeSummary(report: EnvReport): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  try {
    const body = commentBody(report).replace(`${commentMarker(report.envId)}\n`, '');
    await core.summary.addRaw(body, true).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${err instanceof Error ? err.message : String(err)}`);
  }
}
