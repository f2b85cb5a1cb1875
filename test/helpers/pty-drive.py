#!/usr/bin/env python3
"""Drives a command on a pseudo-terminal for the tests (Node has no pty).

Usage: pty-drive.py STEPS_JSON -- COMMAND ARGS...
STEPS_JSON is a list of steps, run in order:
  {"expect": "text"}        wait (up to 30 s) until the output contains text
  {"send": "text"}          type text
  {"resize": [rows, cols]}  resize the terminal (the child gets SIGWINCH)
Prints a JSON object {"exit": code, "output": text} when the command ends.
"""
import json
import os
import pty
import select
import struct
import sys
import termios
import fcntl
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    steps = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    set_size(fd, 24, 80)
    output = b""

    def pump(timeout):
        nonlocal output
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        output += data
        return True

    alive = True
    for step in steps:
        if "expect" in step:
            want = step["expect"].encode()
            deadline = time.time() + 30
            mark = len(output)
            while alive and want not in output[mark - 200 if mark > 200 else 0:] and time.time() < deadline:
                alive = pump(0.1)
            if want not in output:
                break
        elif "send" in step:
            os.write(fd, step["send"].encode())
        elif "resize" in step:
            rows, cols = step["resize"]
            set_size(fd, rows, cols)
            os.kill(pid, 28)  # SIGWINCH reaches the foreground process (ctr)
    deadline = time.time() + 60
    while alive and time.time() < deadline:
        alive = pump(0.2)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"exit": code, "output": output.decode(errors="replace")}))


main()
