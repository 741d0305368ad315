#!/usr/bin/env bash
# The quick start's first command (`npm run demo`, after `scripts/setup.sh` has run as its pre-step):
# a busybox container with memory, cpu and pids limits, on the execdriver0 bridge.
set -euo pipefail
cd "$(dirname "$0")/.."

rootfs=${EXECDRIVER_DEMO_ROOTFS:-/var/lib/execdriver/rootfs/busybox}
if [[ ! -x $rootfs/bin/busybox || -L $rootfs/bin/busybox ]]; then
  echo "demo: making a busybox root filesystem in $rootfs" >&2
  mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
fi

script='
echo "hostname:   $(hostname)   pid of this shell: $$"
echo "user:       $(id)"
echo "processes:  $(ls /proc | grep -c "^[0-9]") visible in /proc"
ip -o -4 addr show eth0 | awk "{print \"eth0:       \" \$4}"
gw=$(ip route | awk "/^default/ {print \$3}")
ping -c 1 -W 1 "$gw" >/dev/null && echo "gateway:    $gw answers (the host side of the bridge)"
dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null || echo "memory:     a 100 MiB buffer was refused: the limit is 64 MiB"
mount -t tmpfs none /mnt 2>/dev/null || echo "mount:      refused (no CAP_SYS_ADMIN, and the seccomp filter)"
echo "security:   $(grep -E "^(CapBnd|Seccomp):" /proc/self/status | tr -s "\t\n" "  ")(Docker'"'"'s 14 capabilities, a filter)"
(for i in $(seq 1 100); do sleep 1 & done) 2>/dev/null
set -- /proc/[0-9]*
echo "pids:       100 background sleeps asked, $# processes running (the limit is 32)"
'
set -x
./bin/execdriver run --rootfs "$rootfs" --hostname demo \
  --memory 64m --memory-swap 64m --cpu-shares 512 --pids-limit 32 \
  --net bridge -- sh -c "$script"
