#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian 12 machine, as root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
# Real Docker engines behind the simulated docker-host pods (test/sim/kubelet/docker): dockerd, containerd and iptables
# come with docker.io; the images are built FROM scratch around the static busybox; ip makes their netns.
command -v dockerd >/dev/null || need_apt+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v ip >/dev/null || need_apt+=(iproute2)
# Compose v2 and buildx exist only in trixie; installing them from there also lifts docker.io to 26.1 (bookworm
# has 20.10). Trixie is added with a low pin so that nothing else comes from it.
need_trixie=()
[ -x /usr/libexec/docker/cli-plugins/docker-compose ] || need_trixie+=(docker-compose)
[ -x /usr/libexec/docker/cli-plugins/docker-buildx ] || need_trixie+=(docker-buildx)
if [ ${#need_trixie[@]} -gt 0 ]; then
  if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: trixie' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >/etc/apt/sources.list.d/trixie.sources
  fi
  if [ ! -f /etc/apt/preferences.d/trixie-low ]; then
    printf '%s\n' 'Package: *' 'Pin: release n=trixie' 'Pin-Priority: 100' >/etc/apt/preferences.d/trixie-low
  fi
fi
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_trixie[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#need_apt[@]} -eq 0 ] || apt-get install -y -qq "${need_apt[@]}" >/dev/null
  [ ${#need_trixie[@]} -eq 0 ] || apt-get install -y -qq -t trixie "${need_trixie[@]}" >/dev/null
fi

# The devDependency `node@24` puts Node 24 first on PATH for every npm script: the action runs on node24,
# and @kubernetes/client-node 2.x does not load on older Node.
npm ci --no-audit --no-fund
