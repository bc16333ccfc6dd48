#!/bin/sh
# See kubectl-standin.ts. The project's node (24), which the action needs; tsx resolves from the repository.
here=$(dirname "$0")
cd "$here/../.." && exec node_modules/.bin/node --import tsx bench/lib/kubectl-standin.ts "$@"
