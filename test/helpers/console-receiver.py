#!/usr/bin/env python3
"""The caller's side of an OCI console socket, for the tests (Node cannot
receive file descriptors): listens on PATH, prints "listening", receives the
pty master (SCM_RIGHTS), then runs STEPS on it like pty-drive.py
({"expect": text} | {"send": text} | {"resize": [rows, cols]}) and prints
{"output": text} once the terminal closes or the steps end.

Usage: console-receiver.py PATH STEPS_JSON
"""
import fcntl
import json
import os
import select
import socket
import struct
import sys
import termios
import time


def main():
    path, steps = sys.argv[1], json.loads(sys.argv[2])
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    print("listening", flush=True)
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    conn.close()
    master = fds[0]
    output = b""

    def pump(timeout):
        nonlocal output
        r, _, _ = select.select([master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(master, 65536)
        except OSError:
            return False
        if not data:
            return False
        output += data
        return True

    alive = True
    for step in steps:
        if "expect" in step:
            deadline = time.time() + 30
            while alive and step["expect"].encode() not in output and time.time() < deadline:
                alive = pump(0.1)
        elif "send" in step:
            os.write(master, step["send"].encode())
        elif "resize" in step:
            rows, cols = step["resize"]
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    deadline = time.time() + 30
    while alive and time.time() < deadline:
        alive = pump(0.2)
    print(json.dumps({"output": output.decode(errors="replace")}), flush=True)


main()
