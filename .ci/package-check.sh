#!/usr/bin/env bash
# The npm package works on its own: packed, installed into a fresh folder outside the repository, and
# `npx emulator --mock --port 0` there answers /health.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
emulator_pid=""
# npx runs the emulator as its child: both live in their own session, and are stopped together.
cleanup() {
  [ -n "$emulator_pid" ] && kill -- "-$emulator_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
cd "$work"
# The steps of the README's "Installing into a project", word for word: npm 11 runs a dependency's
# install script only when the project allows it, and better-sqlite3 builds its native module in one.
npm init -y >/dev/null
npm pkg set allowScripts.better-sqlite3=true allowScripts.esbuild=true --json
npm install --save-dev --no-audit --no-fund "./$tarball" >/dev/null
setsid npx emulator --mock --port 0 --in-memory > emulator.log 2>&1 &
emulator_pid=$!
for _ in $(seq 1 100); do
  # The file appears once the background shell has opened it, which may be after the first look.
  url=$(sed -n 's/^ready: //p' emulator.log 2>/dev/null || true)
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "${url:-}" ] || { cat emulator.log; echo "package check: the installed emulator never printed its ready line"; exit 1; }
health=$(curl -sf "$url/health")
# The console: its page, and every file the page and its modules load, served from the installed package.
origin=${url%/v2/*}
page=$(curl -sf "$origin/") || { echo "package check: / did not answer"; exit 1; }
grep -q '<title>RunPod emulator console</title>' <<< "$page" || { echo "package check: / is not the console's page"; exit 1; }
queue=$(grep -o '"/console/[^"]*"' <<< "$page" | tr -d '"')
seen=" "
while [ -n "$queue" ]; do
  asset=${queue%%$'\n'*}
  queue=${queue#"$asset"}
  queue=${queue#$'\n'}
  [ -z "$asset" ] || [[ "$seen" == *" $asset "* ]] && continue
  seen="$seen$asset "
  body=$(curl -sf "$origin$asset") || { echo "package check: the console's $asset is not served"; exit 1; }
  # The modules it imports, relative to it.
  imports=$(grep -o 'from "\./[a-z-]*\.js"' <<< "$body" | sed 's#^from "\./#/console/#; s#"$##' || true)
  [ -z "$imports" ] || queue="$queue"$'\n'"$imports"
done
echo "package check: installed from $tarball; $url/health answered $health; the console's page and$seen are served"
kill -TERM -- "-$emulator_pid"
wait "$emulator_pid" || true
emulator_pid=""
