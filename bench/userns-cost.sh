#!/bin/bash
# What the user-namespace step (dist/tsrun-userns) adds to create, tsrun and runc side by
# side: `create` of the same busybox bundle running `sleep 10`, with and without a user
# namespace (0 -> 100000, 65536 ids; a rootfs copy chowned to 100000), then `delete -f`,
# interleaved, N rounds (default 15). Prints medians and minimums in ms.
#   sudo bash bench/userns-cost.sh [N]
# Needs root, jq, runc, python3, a built dist/ and examples/hello-world/rootfs
# (bash scripts/make-rootfs.sh examples/hello-world/rootfs).
set -euo pipefail
N=${1:-15}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tsrun=${TSRUN_BIN:-$top/dist/tsrun.js}
work=$(mktemp -d /tmp/tsrun-userns-cost-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp -a "$top/examples/hello-world/rootfs" "$work/rootfs-plain"
cp -a "$work/rootfs-plain" "$work/rootfs-user"
chown -R 100000:100000 "$work/rootfs-user"
for v in plain user; do
  mkdir -p "$work/b-$v"
  jq --arg root "$work/rootfs-$v" '.process.args=["sleep","10"] | .root.path=$root' \
    "$top/examples/hello-world/config.json" > "$work/b-$v/config.json"
done
jq '.linux.namespaces += [{"type":"user"}]
    | .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}]
    | .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}]' \
  "$work/b-user/config.json" > "$work/c" && mv "$work/c" "$work/b-user/config.json"
for i in $(seq 1 "$N"); do
  for rt in tsrun runc; do
    for v in plain user; do
      if [ "$rt" = tsrun ]; then cmd=$tsrun; else cmd=runc; fi
      s=$(date +%s%N)
      "$cmd" --root "$work/root-$rt" create --bundle "$work/b-$v" "c$i$v" >/dev/null 2>&1 || echo "create failed: $rt $v" >&2
      e=$(date +%s%N)
      "$cmd" --root "$work/root-$rt" delete -f "c$i$v" >/dev/null 2>&1 || true
      echo "$rt $v $(( (e - s) / 1000 ))"
    done
  done
done | python3 -c '
import sys, statistics, collections
d = collections.defaultdict(list)
for line in sys.stdin:
    rt, v, us = line.split()
    d[(rt, v)].append(int(us) / 1000)
for (rt, v), xs in sorted(d.items()):
    ns = "with a user namespace" if v == "user" else "without"
    print(f"{rt:5s} create {ns:22s} median {statistics.median(xs):6.1f} ms  min {min(xs):6.1f} ms  (n={len(xs)})")
'
