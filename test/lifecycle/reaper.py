#!/usr/bin/env python3
"""The chaos test's wrapper: a child subreaper that runs one command (with --pty, on a new
pseudo-terminal whose output it drains), prints the command's pid on stdout, reaps every
process that gets orphaned under it, and exits once its stdin reaches EOF (after the command).
So every process the command left behind is still a descendant of this one: the test finds
them by walking /proc, whatever their parent died of."""
import ctypes, os, select, signal, sys

PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("reaper: prctl(PR_SET_CHILD_SUBREAPER) failed")

args = sys.argv[1:]
use_pty = bool(args) and args[0] == "--pty"
if use_pty:
    args = args[1:]
master = None
if use_pty:
    master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    if use_pty:
        import fcntl, termios
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(slave)
        os.close(master)
    else:
        devnull = os.open("/dev/null", os.O_RDWR)
        os.dup2(devnull, 0)
    os.execvp(args[0], args)
if use_pty:
    os.close(slave)
sys.stdout.write(f"{pid}\n")
sys.stdout.flush()
status = None
stdin_open = True
while True:
    fds = [0] if stdin_open else []
    if master is not None:
        fds.append(master)
    r, _, _ = select.select(fds, [], [], 0.02)
    if master is not None and master in r:
        try:
            if not os.read(master, 65536):
                raise OSError
        except OSError:
            os.close(master)
            master = None
    if 0 in r and not os.read(0, 4096):
        stdin_open = False
    while True:
        try:
            p, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if p == 0:
            break
        if p == pid:
            status = os.waitstatus_to_exitcode(st)
            sys.stdout.write(f"exit {status}\n")
            sys.stdout.flush()
    if not stdin_open:
        break
