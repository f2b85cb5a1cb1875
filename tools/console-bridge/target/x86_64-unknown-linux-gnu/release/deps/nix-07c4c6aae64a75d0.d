/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/nix-07c4c6aae64a75d0.d: /usr/share/cargo/registry/nix-0.26.1/src/lib.rs /usr/share/cargo/registry/nix-0.26.1/src/macros.rs /usr/share/cargo/registry/nix-0.26.1/src/errno.rs /usr/share/cargo/registry/nix-0.26.1/src/fcntl.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/linux.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/signal.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/sysinfo.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/time.rs /usr/share/cargo/registry/nix-0.26.1/src/unistd.rs /usr/share/cargo/registry/nix-0.26.1/src/poll.rs /usr/share/cargo/registry/nix-0.26.1/src/pty.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/memfd.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/select.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/signalfd.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/addr.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/sockopt.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/stat.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/statfs.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/statvfs.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/termios.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/uio.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/wait.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libnix-07c4c6aae64a75d0.rlib: /usr/share/cargo/registry/nix-0.26.1/src/lib.rs /usr/share/cargo/registry/nix-0.26.1/src/macros.rs /usr/share/cargo/registry/nix-0.26.1/src/errno.rs /usr/share/cargo/registry/nix-0.26.1/src/fcntl.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/linux.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/signal.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/sysinfo.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/time.rs /usr/share/cargo/registry/nix-0.26.1/src/unistd.rs /usr/share/cargo/registry/nix-0.26.1/src/poll.rs /usr/share/cargo/registry/nix-0.26.1/src/pty.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/memfd.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/select.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/signalfd.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/addr.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/sockopt.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/stat.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/statfs.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/statvfs.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/termios.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/uio.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/wait.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libnix-07c4c6aae64a75d0.rmeta: /usr/share/cargo/registry/nix-0.26.1/src/lib.rs /usr/share/cargo/registry/nix-0.26.1/src/macros.rs /usr/share/cargo/registry/nix-0.26.1/src/errno.rs /usr/share/cargo/registry/nix-0.26.1/src/fcntl.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/linux.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/signal.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/sysinfo.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/time.rs /usr/share/cargo/registry/nix-0.26.1/src/unistd.rs /usr/share/cargo/registry/nix-0.26.1/src/poll.rs /usr/share/cargo/registry/nix-0.26.1/src/pty.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/memfd.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/select.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/signalfd.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/mod.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/addr.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/socket/sockopt.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/stat.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/statfs.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/statvfs.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/termios.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/uio.rs /usr/share/cargo/registry/nix-0.26.1/src/sys/wait.rs

/usr/share/cargo/registry/nix-0.26.1/src/lib.rs:
/usr/share/cargo/registry/nix-0.26.1/src/macros.rs:
/usr/share/cargo/registry/nix-0.26.1/src/errno.rs:
/usr/share/cargo/registry/nix-0.26.1/src/fcntl.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/mod.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/mod.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/ioctl/linux.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/signal.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/sysinfo.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/time.rs:
/usr/share/cargo/registry/nix-0.26.1/src/unistd.rs:
/usr/share/cargo/registry/nix-0.26.1/src/poll.rs:
/usr/share/cargo/registry/nix-0.26.1/src/pty.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/memfd.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/select.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/signalfd.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/socket/mod.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/socket/addr.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/socket/sockopt.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/stat.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/statfs.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/statvfs.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/termios.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/uio.rs:
/usr/share/cargo/registry/nix-0.26.1/src/sys/wait.rs:
