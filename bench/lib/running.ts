import type { ChildProcess } from 'node:child_process';

/** Child processes still running, so an interrupted bench can end them. */
export const running = new Set<ChildProcess>();
