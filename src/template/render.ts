import path from 'node:path';
import type { TemplateContext } from './engine.js';
import { renderInSandbox } from './sandbox.js';

export {
  parseNunjucksMessage,
  TEMPLATE_FILTERS,
  type TemplateContext,
  type TemplatePr,
  type TemplateService,
} from './engine.js';

/**
 * Renders the template with the context, in the sandbox (sandbox.ts): the child may read the template's
 * folder (includes live next to the template) and nothing of the runner's secrets.
 */
export function renderTemplate(args: { file: string; source?: string; context: TemplateContext }): string {
  const root = path.dirname(path.resolve(args.file));
  return renderInSandbox({ kind: 'manifests', file: args.file, source: args.source, context: args.context }, [
    root,
  ]);
}
