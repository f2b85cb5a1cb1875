#!/usr/bin/env python3
"""Drives a command on a pseudo-terminal for the tests (Node has no pty).

Usage: pty-drive.py STEPS_JSON -- COMMAND ARGS...
STEPS_JSON is a list of steps (see ptysteps.py). Prints a JSON object
{"exit": code, "output": text} when the command ends.
"""
import json
import os
import pty
import sys

from ptysteps import run_steps, set_size


def main():
    steps = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    set_size(fd, 24, 80)
    # The foreground process (the client) relays the new size on SIGWINCH.
    output = run_steps(fd, steps, on_resize=lambda: os.kill(pid, 28))
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "output": output}))


main()
