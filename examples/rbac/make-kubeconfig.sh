#!/usr/bin/env bash
# Prints, on stdout, a kubeconfig that authenticates as a ServiceAccount: the cluster's server and CA from
# your current kubectl context, and a token from `kubectl create token`. Store it as the action's secret:
#
#   kubectl apply -f examples/rbac/role.yaml
#   bash examples/rbac/make-kubeconfig.sh previews preevy-kube-action | gh secret set PREVIEW_KUBECONFIG
#
# Usage: make-kubeconfig.sh [-c CONTEXT] [-d DURATION] NAMESPACE SERVICE_ACCOUNT
#   -c CONTEXT   the kubectl context whose cluster to use (default: the current context)
#   -d DURATION  the token's lifetime, e.g. 720h (default: 8760h, one year)
#
# The token is not stored in the cluster. It stops working when it expires or when the ServiceAccount is
# deleted; to rotate it, run this again and update the secret. The API server may issue a shorter token than
# asked for (some managed clusters cap the lifetime): the real expiry is printed on stderr.
# Needs kubectl 1.24 or later.
set -euo pipefail

usage() {
  echo "usage: $0 [-c CONTEXT] [-d DURATION] NAMESPACE SERVICE_ACCOUNT" >&2
  exit 2
}

context=''
duration='8760h'
while getopts 'c:d:h' opt; do
  case "$opt" in
    c) context=$OPTARG ;;
    d) duration=$OPTARG ;;
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
  echo "error: no ServiceAccount $service_account in namespace $namespace (apply examples/rbac/role.yaml first)" >&2
  exit 1
fi
token=$("${kube[@]}" -n "$namespace" create token "$service_account" --duration "$duration")
if [ -z "$token" ]; then
  echo "error: kubectl create token returned nothing" >&2
  exit 1
fi

# The expiry from the token's payload (base64url JSON), best effort: tell the user when to rotate.
payload=$(printf '%s' "$token" | cut -d. -f2 | tr '_-' '/+')
while [ $((${#payload} % 4)) -ne 0 ]; do payload="$payload="; done
exp=$(printf '%s' "$payload" | base64 -d 2>/dev/null | sed -n 's/.*"exp":\([0-9][0-9]*\).*/\1/p' || true)
if [ -n "$exp" ]; then
  expiry=$(date -u -d "@$exp" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || date -u -r "$exp" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo "$exp (Unix time)")
  echo "The token of $namespace/$service_account expires $expiry." >&2
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
