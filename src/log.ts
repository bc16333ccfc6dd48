import * as core from '@actions/core';
import type { Log } from './util/log.js';

/** The runner's log, for modules that take a plain Log. */
export const actionsLog: Log = {
  info: (msg) => core.info(msg),
  warning: (msg) => core.warning(msg),
  debug: (msg) => core.debug(msg),
};
