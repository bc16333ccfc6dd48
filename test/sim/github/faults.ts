/**
 * The GitHub simulator's faults: the failures GitHub's API actually shows, that is 5xx, the secondary rate
 * limit (403/429 + retry-after), the primary rate limit (403/429 + x-ratelimit-remaining: 0), latency and
 * dropped connections. The rules, the seeded draws and the audit queries are `../faults.ts`.
 */
import * as shared from '../faults.js';

export type { FaultMatch } from '../faults.js';
export { countRequests, writes } from '../faults.js';

type Failure =
  /** Answer with this status (500, 502, 503...) and GitHub's JSON error body. */
  | { type: 'status'; code: number; message?: string }
  /** "You have exceeded a secondary rate limit": 403 by default, with `retry-after`. */
  | { type: 'secondary-rate-limit'; status?: 403 | 429; retryAfterSeconds?: number }
  /** "API rate limit exceeded": `x-ratelimit-remaining: 0` and a reset this many seconds ahead. */
  | { type: 'primary-rate-limit'; status?: 403 | 429; resetInSeconds?: number }
  /** Destroy the socket without any response. */
  | { type: 'drop' };

export type FaultAction = shared.FaultAction<Failure>;
export type FaultRule = shared.FaultRule<Failure>;

export class Faults extends shared.Faults<Failure> {}

export interface AuditEntry extends shared.AuditEntry {
  /** As requested (a Link header's `/repositories/<id>/...` form stays as it came). */
  path: string;
  /** The token's login; absent without a (known) token. */
  login?: string;
  /** The operation of GitHub's description the request matched. */
  operationId?: string;
  /** The JSON request body (the raw text when it was not JSON). */
  body?: unknown;
}
