#!/usr/bin/env bash
# Makes this checkout ready to run on Debian 12, as root: the Debian packages execdriver uses,
# the npm dev dependencies, then the build (TypeScript and the C init). Safe to run again: it only
# installs what is missing. `--bench` adds what the benchmark compares against.
set -euo pipefail
cd "$(dirname "$0")/.."

# runc crun docker.io containerd podman: the OCI conformance and Docker/containerd/Podman smoke tests
packages=(busybox-static lxc iproute2 util-linux procps python3 gcc make libc6-dev libseccomp-dev uidmap slirp4netns nftables
  runc crun docker.io containerd podman)
[[ "${1:-}" == "--bench" ]] && packages+=(hyperfine)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "execdriver setup: missing Debian packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "execdriver setup: installing ${missing[*]}" >&2
  apt-get update -qq
  scripts/no-daemons.sh env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --userns=remap: user `execdriver` with 65536 subordinate uids and gids on a free range
if [[ $(id -u) == 0 ]]; then
  id -u execdriver >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin execdriver
  touch /etc/subuid /etc/subgid
  if ! grep -q '^execdriver:' /etc/subuid 2>/dev/null || ! grep -q '^execdriver:' /etc/subgid 2>/dev/null; then
    start=$(awk -F: 'NF==3 && $2+$3>m {m=$2+$3} END {print (m>100000 ? m : 100000)}' /etc/subuid /etc/subgid)
    range="$start-$((start + 65535))"
    usermod --add-subuids "$range" --add-subgids "$range" execdriver
  fi
fi

if [[ ! -x node_modules/.bin/tsc || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run -s build
