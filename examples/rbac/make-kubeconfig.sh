#!/usr/bin/env bash
# Prints, on stdout, a kubeconfig that authenticates as a ServiceAccount: the cluster's server and CA from
# your current kubectl context, and a token. Store it as the action's secret:
#
#   kubectl -n previews apply -f examples/rbac/role.yaml
#   bash examples/rbac/make-kubeconfig.sh previews preevy-kube-action | gh secret set PREVIEW_KUBECONFIG
#
# Usage: make-kubeconfig.sh [-c CONTEXT] [-d DURATION | -s] NAMESPACE SERVICE_ACCOUNT
#   -c CONTEXT   the kubectl context whose cluster to use (default: the current context)
#   -d DURATION  the token's lifetime, e.g. 720h (default: 8760h, one year)
#   -s           a token that does not expire: a Secret of type kubernetes.io/service-account-token named
#                SERVICE_ACCOUNT-token in NAMESPACE (made, or reused), whose token the cluster fills in
#
# Without -s the token comes from `kubectl create token` and is not stored in the cluster. It stops working when
# it expires or when the ServiceAccount is deleted; to rotate it, run this again and update the secret. Managed
# clusters cap its lifetime whatever -d asks (EKS, GKE and AKS issue 24 to 48 hours), and after that every run
# fails with 401 Unauthorized: the real expiry is printed on stderr, with a warning when it is under a week.
# With -s the token lasts until the Secret or the ServiceAccount is deleted: delete the Secret to revoke it. It is
# readable by whoever may read Secrets in NAMESPACE.
# Needs kubectl 1.24 or later.
set -euo pipefail

usage() {
  echo "usage: $0 [-c CONTEXT] [-d DURATION | -s] NAMESPACE SERVICE_ACCOUNT" >&2
  exit 2
}

context=''
duration='8760h'
secret_token=''
while getopts 'c:d:sh' opt; do
  case "$opt" in
    c) context=$OPTARG ;;
    d) duration=$OPTARG ;;
    s) secret_token=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ "$#" -eq 2 ] || usage
namespace=$1
service_account=$2

kube=(kubectl)
[ -z "$context" ] || kube+=(--context "$context")

if [ -t 1 ]; then
  echo "warning: stdout is a terminal; the kubeconfig (with its token) is printed there." >&2
  echo "         Pipe it instead, e.g. | gh secret set PREVIEW_KUBECONFIG" >&2
fi

# The context's cluster, with a CA file (if any) inlined as certificate-authority-data.
cluster_field() {
  "${kube[@]}" config view --raw --minify --flatten -o "jsonpath={.clusters[0].cluster.$1}"
}
server=$(cluster_field server)
ca_data=$(cluster_field 'certificate-authority-data')
tls_server_name=$(cluster_field 'tls-server-name')
if [ -z "$server" ]; then
  echo "error: no cluster server in the kubectl context${context:+ $context}" >&2
  exit 1
fi
if [ -z "$ca_data" ]; then
  echo "warning: the cluster has no certificate-authority-data; the kubeconfig relies on the system's CAs." >&2
fi

if ! "${kube[@]}" -n "$namespace" get serviceaccount "$service_account" -o name >/dev/null; then
  echo "error: no ServiceAccount $service_account in namespace $namespace (apply examples/rbac/role.yaml there first)" >&2
  exit 1
fi
if [ -n "$secret_token" ]; then
  # "Manually create a long-lived API token for a ServiceAccount" (kubectl docs): the token controller writes a
  # token into a Secret of this type whose annotation names the ServiceAccount.
  secret="$service_account-token"
  "${kube[@]}" -n "$namespace" apply -f - >/dev/null <<SECRET
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata:
  name: "$secret"
  annotations:
    kubernetes.io/service-account.name: "$service_account"
SECRET
  token_b64=''
  for _ in $(seq 1 30); do
    token_b64=$("${kube[@]}" -n "$namespace" get secret "$secret" -o 'jsonpath={.data.token}')
    [ -z "$token_b64" ] || break
    sleep 1
  done
  if [ -z "$token_b64" ]; then
    echo "error: Secret $namespace/$secret got no token within 30 s (is the token controller running?)" >&2
    exit 1
  fi
  token=$(printf '%s' "$token_b64" | base64 -d)
  echo "The token of Secret $namespace/$secret does not expire; delete the Secret to revoke it." >&2
else
  token=$("${kube[@]}" -n "$namespace" create token "$service_account" --duration "$duration")
fi
if [ -z "$token" ]; then
  echo "error: no token for $namespace/$service_account" >&2
  exit 1
fi

# The expiry from the token's payload (base64url JSON), best effort: tell the user when to rotate.
payload=$(printf '%s' "$token" | cut -d. -f2 | tr '_-' '/+')
while [ $((${#payload} % 4)) -ne 0 ]; do payload="$payload="; done
exp=$(printf '%s' "$payload" | base64 -d 2>/dev/null | sed -n 's/.*"exp":\([0-9][0-9]*\).*/\1/p' || true)
if [ -n "$exp" ]; then
  expiry=$(date -u -d "@$exp" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || date -u -r "$exp" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo "$exp (Unix time)")
  echo "The token of $namespace/$service_account expires $expiry." >&2
  if [ $((exp - $(date +%s))) -lt 604800 ]; then
    echo "warning: the cluster issued a token for less than a week (managed clusters cap it); after that every" >&2
    echo "         run fails with 401 Unauthorized. Use -s for a token that does not expire." >&2
  fi
fi

# Every value is double-quoted: a server URL, base64 and a JWT contain no quotes or backslashes.
user="$namespace-$service_account"
cat <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: "preview-cluster"
    cluster:
      server: "$server"
EOF
[ -z "$ca_data" ] || printf '      certificate-authority-data: "%s"\n' "$ca_data"
[ -z "$tls_server_name" ] || printf '      tls-server-name: "%s"\n' "$tls_server_name"
cat <<EOF
users:
  - name: "$user"
    user:
      token: "$token"
contexts:
  - name: "preview"
    context:
      cluster: "preview-cluster"
      user: "$user"
      namespace: "$namespace"
current-context: "preview"
EOF
