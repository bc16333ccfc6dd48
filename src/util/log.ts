/**
 * The logging seam of every layer below commands/. main.ts passes an adapter over @actions/core (src/log.ts);
 * tests and other callers pass their own or use `noopLog`.
 */
export interface Log {
  info(msg: string): void;
  warning(msg: string): void;
  debug(msg: string): void;
}

/** Same as Log; the name much of kube/ uses. */
export type KubeLog = Log;

export const noopLog: Log = {
  info() {},
  warning() {},
  debug() {},
};
