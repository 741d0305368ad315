#!/usr/bin/env python3
"""Act as containerd's shim or conmon do for `exec -t`: become a child subreaper, listen on a console
socket, run `execdriver-oci exec --detach --console-socket SOCK --pid-file F ...` (argv: OCI ROOT SOCK
PIDFILE TYPED EXEC-ARGS...), receive the terminal's master over SCM_RIGHTS, type TYPED into it, read
until EIO, reap the process ourselves; print one JSON line."""
import ctypes, json, os, socket, subprocess, sys

from consolefd import read_all, recv_master

oci, root, path, pidfile, typed = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
r = subprocess.run([oci, '--root', root, 'exec', '--detach', '--console-socket', path, '--pid-file', pidfile, *sys.argv[6:]],
                   stdin=subprocess.DEVNULL, capture_output=True, text=True)
if r.returncode != 0:
    print(json.dumps({'exec': r.returncode, 'stderr': r.stderr}), flush=True)
    sys.exit(0)
srv.setblocking(False)
try:
    conn, _ = srv.accept()
    before = True  # the master was on its way before exec returned, as runc's
except BlockingIOError:
    before = False
    srv.setblocking(True)
    conn, _ = srv.accept()
conn.setblocking(True)
msg, master = recv_master(conn)
pid = int(open(pidfile).read())
# while it waits for input: its fd 0 is a terminal of the container's devpts, and its controlling terminal
slave = os.stat(f'/proc/{pid}/fd/0')
theirs = os.stat(f'/proc/{pid}/root/dev/pts/ptmx').st_dev
ctty = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[4])
checks = {'containerDevpts': slave.st_dev == theirs, 'hostDevpts': slave.st_dev == os.stat('/dev/pts/ptmx').st_dev,
          'ctty': ctty == slave.st_rdev, 'fds': [os.path.samestat(slave, os.stat(f'/proc/{pid}/fd/{i}')) for i in range(3)]}
os.write(master, typed.encode())
out = read_all(master)
_, status = os.waitpid(pid, 0)
print(json.dumps({'exec': 0, 'name': msg.decode(), 'isatty': os.isatty(master), 'before': before, 'pid': pid, **checks,
                  'status': os.waitstatus_to_exitcode(status), 'out': out.decode(errors='replace')}), flush=True)
