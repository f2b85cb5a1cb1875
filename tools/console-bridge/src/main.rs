//! hako-console-bridge: the host half of a container terminal for the OCI
//! runtime CLI. Node.js cannot pass file descriptors over a Unix socket, and
//! OCI callers (conmon, containerd's runc shim) expect the pty master on the
//! console socket as an SCM_RIGHTS message. This helper:
//!   1. opens a host pty, puts its slave in raw mode (the terminal discipline
//!      that matters is the guest's),
//!   2. sends the master over the console socket, as runc does,
//!   3. copies stdin → slave (what the container prints) and
//!      slave → stdout (what the user types),
//!   4. says "ok\n" on fd 3 once the master is handed over, then reports each
//!      window size set on the master as "ROWS COLS\n" there.
//! Usage: hako-console-bridge <console-socket-path>
use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use nix::unistd::{read, setsid, write};

#[derive(Debug)]
enum BridgeError {
    Usage,
    Pty(nix::Error),
    Socket(std::io::Error),
    Send(nix::Error),
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BridgeError::Usage => write!(f, "usage: hako-console-bridge <console-socket-path>"),
            BridgeError::Pty(e) => write!(f, "cannot allocate a pty: {e}"),
            BridgeError::Socket(e) => write!(f, "cannot connect to the console socket: {e}"),
            BridgeError::Send(e) => write!(f, "cannot send the pty master: {e}"),
        }
    }
}

const STDIN: RawFd = 0;
const STDOUT: RawFd = 1;
const RESIZES: RawFd = 3;

nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_int_bad!(set_ctty, libc::TIOCSCTTY);

fn open_pty() -> Result<(nix::pty::PtyMaster, OwnedFd), BridgeError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(BridgeError::Pty)?;
    grantpt(&master).map_err(BridgeError::Pty)?;
    unlockpt(&master).map_err(BridgeError::Pty)?;
    let name = ptsname_r(&master).map_err(BridgeError::Pty)?;
    let slave = nix::fcntl::open(name.as_str(), OFlag::O_RDWR | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(BridgeError::Pty)?;
    // SAFETY: open() just returned this descriptor; nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let mut attrs = tcgetattr(slave.as_raw_fd()).map_err(BridgeError::Pty)?;
    cfmakeraw(&mut attrs);
    tcsetattr(slave.as_raw_fd(), SetArg::TCSANOW, &attrs).map_err(BridgeError::Pty)?;
    Ok((master, slave))
}

fn send_master(socket_path: &str, master: &nix::pty::PtyMaster) -> Result<(), BridgeError> {
    let stream = UnixStream::connect(socket_path).map_err(BridgeError::Socket)?;
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(stream.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).map_err(BridgeError::Send)?;
    Ok(())
}

fn report_size(slave: RawFd) {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid pointer.
    if unsafe { get_winsize(slave, &mut ws) }.is_ok() && ws.ws_row > 0 && ws.ws_col > 0 {
        let line = format!("{} {}\n", ws.ws_row, ws.ws_col);
        // fd 3 is optional: without it there is nobody to tell.
        let _ = write(RESIZES, line.as_bytes());
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
    true
}

fn run() -> Result<(), BridgeError> {
    let path = std::env::args().nth(1).ok_or(BridgeError::Usage)?;
    let (master, slave) = open_pty()?;
    // Make the slave our controlling terminal, so that a size set on the
    // master reaches us as SIGWINCH.
    let _ = setsid();
    // SAFETY: TIOCSCTTY on a terminal descriptor we own; the argument is an int.
    let _ = unsafe { set_ctty(slave.as_raw_fd(), 0) };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    let _ = mask.thread_block();
    let mut winch = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(BridgeError::Pty)?;
    send_master(&path, &master)?;
    drop(master);
    // Tell the caller the master was handed over (then sizes follow).
    let _ = write(RESIZES, b"ok\n");
    report_size(slave.as_raw_fd());
    let s = slave.as_raw_fd();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut fds = [
            PollFd::new(s, PollFlags::POLLIN),
            PollFd::new(winch.as_raw_fd(), PollFlags::POLLIN),
            PollFd::new(STDIN, PollFlags::POLLIN),
        ];
        match poll(&mut fds, -1) {
            Err(nix::Error::EINTR) => continue,
            Err(_) => return Ok(()),
            Ok(_) => {}
        }
        let ready = |i: usize| fds.get(i).and_then(|f| f.revents()).map(|r| !r.is_empty()).unwrap_or(false);
        if ready(1) {
            let _ = winch.read_signal();
            report_size(s);
        }
        if ready(0) {
            // What the user typed, for the container's stdin. EIO: the caller closed the master.
            match read(s, &mut buf) {
                Ok(0) | Err(nix::Error::EIO) => return Ok(()),
                Ok(n) => {
                    if !write_all(STDOUT, &buf[..n]) {
                        return Ok(());
                    }
                }
                Err(_) => {}
            }
        }
        if ready(2) {
            // What the container printed, for the user's terminal.
            match read(STDIN, &mut buf) {
                Ok(0) | Err(_) => {
                    // The container is done: what was written stays readable on the master.
                    let _ = std::io::stdout().flush();
                    return Ok(());
                }
                Ok(n) => {
                    if !write_all(s, &buf[..n]) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("hako-console-bridge: {e}");
        std::process::exit(1);
    }
}
