/**
 * `GET pods/<name>/log`, answered from the pod's status and what PodBehaviour.containerLogs says a container
 * of that image writes each run, with the real server's answers (fixtures 073, 080-082, 086-088, 092, 125-129):
 * - a container that never started: 400 `container "app" in pod "p" is waiting to start: <reason>`;
 * - the current (or last exited) instance's output: 200 text/plain, also while in CrashLoopBackOff (126);
 * - `previous=true` while the current instance has itself exited: 200 text/plain `unable to retrieve container
 *   logs for <containerID>` (081, 087), not an error status; in CrashLoopBackOff: the previous run's log (125);
 * - `previous=true` with no previous instance: 400 `previous terminated container ... not found`.
 * `tailLines` keeps the last lines. RBAC (`get pods/log`, 403 as in 082) is checked before this runs.
 */
import { errors } from '../kube/errors.js';
import type { PodBehaviour, SimObject } from '../kube/types.js';

interface ContainerStatus {
  name: string;
  containerID?: string;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: { containerID?: string } };
  lastState?: { terminated?: unknown };
}

function tail(text: string, lines: number | undefined): string {
  if (lines === undefined || Number.isNaN(lines) || lines < 0) return text;
  if (lines === 0) return '';
  const parts = text.split('\n');
  const trailing = parts.at(-1) === '' ? 1 : 0;
  return parts.slice(-(lines + trailing)).join('\n');
}

/** The body of a 200, or throws the StatusError the real server answers with. */
export function podLog(pod: SimObject, query: URLSearchParams, behaviour: PodBehaviour): string {
  const podName = pod.metadata.name;
  const specs = (pod.spec?.containers ?? []) as Array<{ name: string; image: string }>;
  const name = query.get('container') ?? (specs.length === 1 ? specs[0]?.name : undefined);
  if (name === undefined) {
    throw errors.badRequest(
      `a container name must be specified for pod ${podName}, choose one of: [${specs.map((c) => c.name).join(' ')}]`,
    );
  }
  const spec = specs.find((c) => c.name === name);
  if (!spec) throw errors.badRequest(`container ${name} is not valid for pod ${podName}`);
  const statuses = (pod.status?.containerStatuses ?? []) as ContainerStatus[];
  const cs = statuses.find((s) => s.name === name);
  const output = behaviour.containerLogs.get(spec.image) ?? '';
  const lines = query.has('tailLines') ? Number(query.get('tailLines')) : undefined;
  const everRan =
    cs?.state?.running !== undefined ||
    cs?.state?.terminated !== undefined ||
    cs?.lastState?.terminated !== undefined;
  if (query.get('previous') === 'true') {
    if (!cs?.lastState?.terminated) {
      throw errors.badRequest(`previous terminated container "${name}" in pod "${podName}" not found`);
    }
    if (cs.state?.terminated) return `unable to retrieve container logs for ${cs.containerID ?? ''}`;
    return tail(output, lines);
  }
  if (!everRan) {
    const reason = cs?.state?.waiting?.reason ?? 'ContainerCreating';
    throw errors.badRequest(`container "${name}" in pod "${podName}" is waiting to start: ${reason}`);
  }
  return tail(output, lines);
}
