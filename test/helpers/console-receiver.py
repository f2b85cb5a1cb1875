#!/usr/bin/env python3
"""The caller's side of an OCI console socket, for the tests (Node cannot
receive file descriptors): listens on PATH, prints "listening", receives the
pty master (SCM_RIGHTS), runs STEPS on it (see ptysteps.py) and prints
{"output": text} once the terminal closes or the steps end.

Usage: console-receiver.py PATH STEPS_JSON
"""
import json
import socket
import sys

from ptysteps import run_steps


def main():
    path, steps = sys.argv[1], json.loads(sys.argv[2])
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    print("listening", flush=True)
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    conn.close()
    print(json.dumps({"output": run_steps(fds[0], steps)}), flush=True)


main()
