#!/usr/bin/env bash
# Usage: expect-body.sh URL TEXT
# GETs URL from the kind node's ingress controller on 127.0.0.1:80 (curl --resolve: the preview host needs no
# DNS record) until the body contains TEXT, for up to two minutes: the controller picks up a new or changed
# Ingress, and compose's containers, a few seconds after the action returns.
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 URL TEXT" >&2; exit 2; }
url=$1
want=$2
host=${url#*://}
host=${host%%/*}
case "$url" in
  http://*) port=80 ;;
  https://*) port=443 ;;
  *) echo "::error::not an http(s) URL: $url"; exit 1 ;;
esac

body=''
for _ in $(seq 1 60); do
  if body=$(curl --silent --show-error --fail --max-time 5 --resolve "$host:$port:127.0.0.1" "$url" 2>&1) &&
    [[ "$body" == *"$want"* ]]; then
    echo "ok: $url contains \"$want\""
    exit 0
  fi
  sleep 2
done
echo "Last answer of $url:"
printf '%s\n' "$body"
echo "::error::$url did not answer with \"$want\" within two minutes"
exit 1
