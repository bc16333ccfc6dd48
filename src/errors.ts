/**
 * Errors are thrown where they are found and reported once, in main.ts.
 * `message` is for the user (what went wrong and what to do); `details` goes to the debug log only.
 */
export class ActionError extends Error {
  readonly hint?: string;
  readonly details?: string;
  /** The last log lines of what failed (a build, the services that did not start): for the PR comment. */
  readonly logs?: string;

  constructor(
    message: string,
    options: { hint?: string; details?: string; cause?: unknown; logs?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.details = options.details;
    this.logs = options.logs;
  }

  /** The full text shown to the user: message, then the hint on its own line. */
  get userMessage(): string {
    return this.hint ? `${this.message}\n${this.hint}` : this.message;
  }
}

/** A workflow input is missing or malformed. The message names the input. */
export class InputError extends ActionError {
  constructor(
    readonly input: string,
    message: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`Input "${input}": ${message}`, options);
  }
}

/** The template does not render, parse, or honour the contract. The message names file and line. */
export class TemplateError extends ActionError {
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${message}`, options);
  }
}

/** The Kubernetes API refused or failed a request; the message carries the Status reason and message. */
export class KubeApiError extends ActionError {
  constructor(
    message: string,
    readonly code?: number,
    readonly reason?: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The environment did not become ready in time, or failed; the message holds pod reasons and events. */
export class ReadinessError extends ActionError {}

/** The environment's identity is ambiguous (two live environments with one env id). */
export class IdentityError extends ActionError {}

export function errorMessage(err: unknown): string {
  if (err instanceof ActionError) return err.userMessage;
  if (err instanceof Error) return err.message;
  return String(err);
}
