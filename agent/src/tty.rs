//! Terminals. crun allocates the pty inside the container and hands its
//! master to us over a console socket (one SCM_RIGHTS message). The data in
//! that message survives crun's exit, so we accept after crun has returned.
use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    pub fn bind(path: &Path) -> io::Result<ConsoleSocket> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(ConsoleSocket { listener, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the pty master that crun sent. Call after crun has exited.
    pub fn receive(&self) -> io::Result<File> {
        let (stream, _) = self.listener.accept().map_err(|e| {
            io::Error::new(e.kind(), format!("crun did not connect to the console socket: {e}"))
        })?;
        stream.set_nonblocking(false)?;
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
        let mut received: Vec<RawFd> = vec![];
        for c in msg.cmsgs() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                received.extend(fds);
            }
        }
        let mut files: Vec<File> = received
            .into_iter()
            // SAFETY: the kernel just installed these descriptors for us.
            .map(|fd| unsafe { File::from_raw_fd(fd) })
            .collect();
        if files.len() != 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected one pty master on the console socket, got {}", files.len()),
            ));
        }
        Ok(files.remove(0))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sets the terminal size seen by the container.
pub fn resize(master: &File, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
