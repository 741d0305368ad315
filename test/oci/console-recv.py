#!/usr/bin/env python3
"""Listen on a unix socket (argv[1]) as conmon or containerd's shim do: receive the terminal's master
over SCM_RIGHTS, type argv[2] into it, print what the container writes until EOF/EIO, as JSON."""
import json, os, socket, sys

from consolefd import read_all, recv_master

path, typed = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print('listening', flush=True)
conn, _ = srv.accept()
msg, master = recv_master(conn)
os.write(master, typed.encode())
out = read_all(master)
print(json.dumps({'name': msg.decode(), 'isatty': os.isatty(master), 'out': out.decode(errors='replace')}), flush=True)
