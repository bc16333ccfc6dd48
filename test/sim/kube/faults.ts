/**
 * The Kubernetes simulator's faults: what an apiserver or the load balancer in front of it does to a request.
 * The rules, the seeded draws and the audit queries are `../faults.ts`.
 */
import * as shared from '../faults.js';

export type { FaultMatch } from '../faults.js';
export { countRequests, writes } from '../faults.js';

type Failure =
  /** Answer with a Status of this code (500, 503, 429...). 429 carries `Retry-After`. */
  | { type: 'status'; code: number; retryAfterSeconds?: number; message?: string }
  /** Destroy the socket without any response. */
  | { type: 'drop' }
  /**
   * Serve the request, then cut its connection mid-stream. A plain request is handled (a write is stored) and
   * its answer stops after the headers and half the body: the client sees a reset although the server acted.
   * An upgrade (exec, port-forward) is accepted and its socket destroyed (the client sees WebSocket close 1006)
   * before a frame would take the bytes sent to the client past `afterBytes`, or `afterMs` after it opened;
   * with neither, before the first frame past the port-forward's port prefixes (6 bytes).
   */
  | CutAction;

export interface CutAction {
  type: 'cut';
  afterBytes?: number;
  afterMs?: number;
}

export type FaultAction = shared.FaultAction<Failure>;
export type FaultRule = shared.FaultRule<Failure>;

export class Faults extends shared.Faults<Failure> {}

export interface AuditEntry extends shared.AuditEntry {
  /** 0 when the connection was dropped; 101 for an upgrade handed to a handler. */
  status: number;
  user?: string;
}
