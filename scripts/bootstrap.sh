#!/usr/bin/env bash
# Makes node_modules match package-lock.json before anything else runs, so `npm start` and `npm test`
# work from a fresh clone. Cheap when nothing changed: it compares the lockfile with npm's record of
# the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -x node_modules/.bin/node ] || [ ! -x node_modules/.bin/deno ]; then
  echo "bootstrap: installing npm dependencies" >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
fi
