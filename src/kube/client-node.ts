/**
 * The one door to @kubernetes/client-node's runtime values.
 *
 * client-node is most of the action's bundle: about 5 of dist/index.js's 6 MB, because its entry module
 * re-exports every generated API and model. Evaluating that takes about a third of a second. With a static
 * import the action would spend it before its first line runs. Loaded here on first use instead, it is
 * evaluated while `docker compose config` reads the project in another process (src/commands/up.ts starts
 * that first). `webpackMode: "eager"` keeps it inside dist/index.js: no chunk file, evaluation deferred only.
 *
 * `ApiException` is imported from its own module, which has no imports: the error checks need it from the
 * start, and it is the same class the entry module re-exports.
 */
import type * as ClientNode from '@kubernetes/client-node';

export { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';

export type ClientNodeModule = typeof ClientNode;

let loading: Promise<ClientNodeModule> | undefined;

export function clientNode(): Promise<ClientNodeModule> {
  loading ??= import(/* webpackMode: "eager" */ '@kubernetes/client-node');
  return loading;
}
