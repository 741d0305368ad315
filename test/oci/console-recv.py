#!/usr/bin/env python3
"""Listen on a unix socket (argv[1]) as conmon or containerd's shim do: receive the terminal's master
over SCM_RIGHTS, type argv[2] into it, print what the container writes until EOF/EIO, as JSON."""
import array, json, os, socket, sys

path, typed = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print('listening', flush=True)
conn, _ = srv.accept()
fds = array.array('i')
msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
master = fds[0]
os.write(master, typed.encode())
out = b''
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
print(json.dumps({'name': msg.decode(), 'isatty': os.isatty(master), 'out': out.decode(errors='replace')}), flush=True)
