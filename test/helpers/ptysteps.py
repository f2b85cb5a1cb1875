"""Runs scripted steps on a terminal file descriptor, for the test helpers
pty-drive.py and console-receiver.py:
  {"expect": "text"}        wait (up to 30 s) until the output contains text
  {"send": "text"}          type text
  {"resize": [rows, cols]}  set the terminal size (and call on_resize)
then reads until the terminal closes (up to 60 s). Returns the output."""
import fcntl
import os
import select
import struct
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def run_steps(fd, steps, on_resize=None):
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
            deadline = time.time() + 30
            while alive and step["expect"].encode() not in output and time.time() < deadline:
                alive = pump(0.1)
            if step["expect"].encode() not in output:
                break
        elif "send" in step:
            os.write(fd, step["send"].encode())
        elif "resize" in step:
            set_size(fd, *step["resize"])
            if on_resize:
                on_resize()
    deadline = time.time() + 60
    while alive and time.time() < deadline:
        alive = pump(0.2)
    return output.decode(errors="replace")
