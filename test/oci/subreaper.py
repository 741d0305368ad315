#!/usr/bin/env python3
"""Act as containerd's shim does: become a child subreaper, `create` and `start` a container
(argv: OCI ROOT BUNDLE ID), then reap its init ourselves; print {"pid": …, "status": exit code}."""
import ctypes, json, os, subprocess, sys

oci, root, bundle, cid = sys.argv[1:5]
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
pidfile = os.path.join(bundle, 'reaper.pid')
null = open(os.devnull, 'w')
subprocess.run([oci, '--root', root, 'create', '--bundle', bundle, '--pid-file', pidfile, cid], check=True, stdout=null)
init = int(open(pidfile).read())
subprocess.run([oci, '--root', root, 'start', cid], check=True)
while True:
    pid, status = os.waitpid(-1, 0)
    if pid == init:
        print(json.dumps({'pid': pid, 'status': os.waitstatus_to_exitcode(status)}), flush=True)
        break
