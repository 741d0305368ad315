#!/usr/bin/env bash
# Runs a command (an apt-get install) with services kept from starting: a policy-rc.d that refuses
# every start (exit 101, invoke-rc.d's "action forbidden"), removed afterwards. Then no dockerd or
# containerd may run that was not running before (on a machine without systemd, the packages'
# init scripts would otherwise start them with default settings: dockerd's iptables rules set the
# FORWARD policy to DROP, which breaks the bridge tests). Exit status: the command's, or 1.
set -euo pipefail
policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e $policy ]]; then
  saved=$(mktemp)
  cp -p "$policy" "$saved"
fi
# the pids of dockerd and containerd processes (from /proc: procps may be what is being installed)
daemons() {
  local d comm
  for d in /proc/[0-9]*; do
    comm=$(cat "$d/comm" 2>/dev/null) || continue
    if [[ $comm == dockerd || $comm == containerd ]]; then echo "${d#/proc/}"; fi
  done | sort
}
before=$(daemons)
restore() {
  if [[ -n $saved ]]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\n# execdriver scripts/no-daemons.sh: no service starts during this install\nexit 101\n' >"$policy"
chmod 755 "$policy"
rc=0
"$@" || rc=$?
new=$(comm -13 <(echo "$before") <(daemons) | grep . || true)
if [[ -n $new ]]; then
  echo "no-daemons: the install started daemons ($(echo $new)); stopping them" >&2
  # shellcheck disable=SC2086
  kill $new 2>/dev/null || true
  for _ in $(seq 50); do [[ -z $(comm -13 <(echo "$before") <(daemons) | grep . || true) ]] && break; sleep 0.2; done
  left=$(comm -13 <(echo "$before") <(daemons) | grep . || true)
  if [[ -n $left ]]; then
    echo "no-daemons: still running: $left" >&2
    exit 1
  fi
fi
exit $rc
