#!/usr/bin/env python3
"""Run a command on a new pseudo-terminal, driven by a test (Node has no pty API).

usage: pty-session.py ROWS COLS -- CMD [ARG...]

The command leads a new session whose controlling terminal is the pty, sized ROWS x COLS.
Lines on stdin drive it:
  w HEX           type these bytes (hex-encoded, so control keys pass)
  r ROWS COLS     set the window size (the kernel sends SIGWINCH to the terminal's foreground)
  s SIGNAL        send a signal (a number) to the command
stdout: what the command writes on the terminal, as it comes.
stderr, last line: "mode raw" or "mode cooked", the terminal's mode once the command is done.
Exit status: the command's (128+n for a signal).
"""
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))


def main():
    if len(sys.argv) < 5 or sys.argv[3] != '--':
        sys.exit('usage: pty-session.py ROWS COLS -- CMD [ARG...]')
    master, slave = os.openpty()
    set_size(master, int(sys.argv[1]), int(sys.argv[2]))
    proc = subprocess.Popen(sys.argv[4:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    pending, control = b'', True
    while True:
        ready, _, _ = select.select([master] + ([0] if control else []), [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:             # EIO: nobody has the terminal open any more
                data = b''
            if not data:
                break
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        if 0 in ready:
            chunk = os.read(0, 65536)
            control = bool(chunk)
            pending += chunk
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                word = line.decode().split()
                if word and word[0] == 'w':
                    os.write(master, bytes.fromhex(word[1]))
                elif word and word[0] == 'r':
                    set_size(master, int(word[1]), int(word[2]))
                elif word and word[0] == 's':
                    os.kill(proc.pid, int(word[1]))
    code = proc.wait()
    lflag = termios.tcgetattr(master)[3]
    sys.stderr.write('mode %s\n' % ('cooked' if lflag & termios.ICANON and lflag & termios.ECHO else 'raw'))
    os.close(master)
    sys.exit(128 - code if code < 0 else code)


if __name__ == '__main__':
    main()
