#!/bin/bash
# make-rootfs.sh DIR — build a minimal busybox root filesystem in DIR.
#
# Uses Debian's statically linked busybox (apt package busybox-static, /bin/busybox),
# or the binary named by $BUSYBOX. Everything is done from the host side (no chroot):
#
#   DIR/bin/busybox            copy of the static binary
#   DIR/bin/<applet>           a relative symlink "busybox" for every applet
#   DIR/sbin, DIR/usr/bin, DIR/usr/sbin   symlinks to bin (merged-/usr style), so
#                              every usual PATH entry finds the applets
#   DIR/etc/passwd, group, hostname, hosts, nsswitch.conf
#   DIR/{proc,sys,dev,tmp,root,home/tester,var/run,run}   empty directories
#
# Idempotent (re-running refreshes the files and keeps what is there) and fast.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
busybox=${BUSYBOX:-/bin/busybox}

if [ ! -x "$busybox" ]; then
  echo "make-rootfs: $busybox not found; install it with: apt-get install busybox-static" >&2
  exit 1
fi
# A dynamically linked busybox (Debian package "busybox") would not run in a rootfs
# without libc. ldd prints "not a dynamic executable" for static binaries.
if command -v ldd >/dev/null 2>&1 && ldd "$busybox" >/dev/null 2>&1; then
  echo "make-rootfs: $busybox is dynamically linked; install the static one: apt-get install busybox-static" >&2
  exit 1
fi

mkdir -p "$dir"
cd "$dir"

mkdir -p bin etc proc sys dev tmp root home/tester var/run run usr
chmod 0755 bin etc home usr var
chmod 1777 tmp
chmod 0700 root
chmod 0755 home/tester
chown 1000:1000 home/tester 2>/dev/null || true

# busybox itself: copy only when missing or different.
if ! cmp -s "$busybox" bin/busybox 2>/dev/null; then
  rm -f bin/busybox.new
  cp "$busybox" bin/busybox.new
  chmod 0755 bin/busybox.new
  mv -f bin/busybox.new bin/busybox
fi

# merged-/usr style: sbin, usr/bin and usr/sbin point at bin (kept if already present).
[ -e sbin ] || [ -L sbin ] || ln -s bin sbin
[ -e usr/bin ] || [ -L usr/bin ] || ln -s ../bin usr/bin
[ -e usr/sbin ] || [ -L usr/sbin ] || ln -s ../bin usr/sbin

# One relative symlink per applet. perl (Essential in Debian) creates them all in one
# process; the ln loop is the fallback and only runs for missing links.
applets=$("$busybox" --list)
if command -v perl >/dev/null 2>&1; then
  printf '%s\n' "$applets" | perl -ne '
    chomp; next if $_ eq "" || $_ eq "busybox" || m{/};
    my $l = "bin/$_";
    next if -l $l || -e $l;
    symlink("busybox", $l) or die "make-rootfs: symlink $l: $!\n";'
else
  while IFS= read -r a; do
    case $a in ''|busybox|*/*) continue ;; esac
    [ -L "bin/$a" ] || [ -e "bin/$a" ] || ln -s busybox "bin/$a"
  done <<<"$applets"
fi

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
tester:x:1000:1000:tsrun test user:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >etc/group <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:tester
tty:x:5:
disk:x:6:
wheel:x:10:root,tester
audio:x:29:tester
video:x:44:tester
users:x:100:tester
tester:x:1000:
nogroup:x:65534:
EOF
echo tsrun >etc/hostname
cat >etc/hosts <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
echo 'hosts: files dns' >etc/nsswitch.conf
chmod 0644 etc/passwd etc/group etc/hostname etc/hosts etc/nsswitch.conf
