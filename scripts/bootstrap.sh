#!/usr/bin/env bash
# Makes node_modules match package-lock.json before anything else runs, so `npm start` and `npm test`
# work from a fresh clone. Cheap when nothing changed: it compares the lockfile with npm's record of
# the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -x node_modules/.bin/node ] || [ ! -x node_modules/.bin/deno ]; then
  echo "bootstrap: installing npm dependencies" >&2
  # `npm install`, not `npm ci`: npm here records only this platform's optional packages in the
  # lockfile, and `npm ci` then refuses the lockfile as out of sync. Versions still come from it.
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error
fi
