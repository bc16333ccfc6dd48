/** Kubernetes' naming rules, defined once for the inputs, the environment's identity and the client. */

/** Label values and DNS-1123 labels (namespaces, most names) share this limit. */
export const MAX_LABEL_LENGTH = 63;

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS subdomain: what an Ingress host, and so a domain under which hosts are made, must be. */
export const DNS1123_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** What a Service name must be: a DNS-1123 label that starts with a letter. */
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= MAX_LABEL_LENGTH && DNS1123_LABEL.test(s);
}
