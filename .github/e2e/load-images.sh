#!/usr/bin/env bash
# The cluster suites' image hook for kind (PREVIEW_TEST_LOAD_IMAGES, README "Contributing"): pulls each image the
# templates name and loads it into the nodes of the kind cluster named by the first argument.
#   load-images.sh CLUSTER IMAGE...
set -euo pipefail
cluster=$1
shift
for image in "$@"; do
  docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image"
done
kind load docker-image --name "$cluster" "$@"
