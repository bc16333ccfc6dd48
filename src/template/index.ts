import { isDockerHost } from '../identity.js';
import type { KubeObject, TypeRef } from '../kube/types.js';
import { parseManifests } from './parse.js';
import { renderTemplate, type TemplateContext } from './render.js';
import { templateHash } from './stamp.js';
import { type Scope, validateManifests } from './validate.js';

export { documentPosition, parseManifests } from './parse.js';
export {
  renderTemplate,
  TEMPLATE_FILTERS,
  type TemplateContext,
  type TemplatePr,
  type TemplateService,
} from './render.js';
export { applyOrder, deleteOrder, type StampOptions, stampManifests, templateHash } from './stamp.js';
export { isKnownClusterScoped, type Scope, validateManifests } from './validate.js';

export interface LoadedManifests {
  /** Validated, namespace filled in, not yet stamped. */
  objects: KubeObject[];
  dockerHost: KubeObject;
  /** Of the rendered text: changes whenever the applied objects would. */
  hash: string;
  rendered: string;
}

/** Render → parse → validate. Nothing here touches the cluster; `scopeOf` comes from discovery. */
interface ManifestSource {
  file: string;
  source?: string;
  context: TemplateContext;
  namespace: string;
}

/** render → parse → validate, with the scopes of the template's kinds resolved (API discovery) in between. */
export async function loadManifests(
  args: ManifestSource & { scopes: (types: TypeRef[]) => Promise<(t: TypeRef) => Scope | undefined> },
): Promise<LoadedManifests> {
  const { rendered, parsed } = renderAndParse(args);
  const types = parsed
    .filter((o) => typeof o.apiVersion === 'string' && typeof o.kind === 'string')
    .map((o) => ({ apiVersion: o.apiVersion, kind: o.kind }));
  return finish(args, rendered, parsed, await args.scopes(types));
}

/** The same with scopes known in advance (tests, offline checks). */
export function prepareManifests(
  args: ManifestSource & { scopeOf: (t: TypeRef) => Scope | undefined },
): LoadedManifests {
  const { rendered, parsed } = renderAndParse(args);
  return finish(args, rendered, parsed, args.scopeOf);
}

function renderAndParse(args: ManifestSource): { rendered: string; parsed: KubeObject[] } {
  const rendered = renderTemplate({ file: args.file, source: args.source, context: args.context });
  return { rendered, parsed: parseManifests(rendered, args.file) };
}

function finish(
  args: ManifestSource,
  rendered: string,
  parsed: KubeObject[],
  scopeOf: (t: TypeRef) => Scope | undefined,
): LoadedManifests {
  const objects = validateManifests(parsed, { namespace: args.namespace, file: args.file, scopeOf });
  // validateManifests guarantees exactly one.
  const dockerHost = objects.find(isDockerHost)!;
  return { objects, dockerHost, hash: templateHash(rendered), rendered };
}
