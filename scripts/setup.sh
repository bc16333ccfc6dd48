#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian 12 machine, as root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The devDependency `node@24` puts Node 24 first on PATH for every npm script: the action runs on node24,
# and @kubernetes/client-node 2.x does not load on older Node.
npm ci --no-audit --no-fund
