"""What a console-socket listener (conmon, containerd's shim) does with a connection, shared by
console-recv.py and exec-console.py: take the terminal's master sent with SCM_RIGHTS, and read
what the container writes until its side closes (EOF or EIO)."""
import array, os, socket


def recv_master(conn):
    """(the message sent with the fd, the master fd)"""
    fds = array.array('i')
    msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, fds[0]


def read_all(master):
    out = b''
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out
