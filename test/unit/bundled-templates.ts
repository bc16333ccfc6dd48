// Test helpers: the templates shipped in templates/, and a template context as `up` builds one. The action itself
// reads the bundled template through inputs.ts (an empty `template` input) and builds its context in
// src/commands/up-steps.ts.
import path from 'node:path';
import { envLabels } from '../../src/identity.js';
import type { TemplateContext } from '../../src/template/index.js';

export function templateContext(args: Omit<TemplateContext, 'labels'>): TemplateContext {
  return { ...args, labels: envLabels(args.envId, args.id) };
}

/** The templates shipped with the action. */
export const BUNDLED_TEMPLATES = ['default', 'rootless-sysbox'] as const;

/** `actionRoot` is the directory holding `templates/` (the action's checkout, one level above dist/). */
export function bundledTemplatePath(name: string, actionRoot: string): string | undefined {
  return (BUNDLED_TEMPLATES as readonly string[]).includes(name)
    ? path.join(actionRoot, 'templates', `${name}.yaml.njk`)
    : undefined;
}
