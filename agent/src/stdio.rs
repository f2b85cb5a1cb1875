//! A process's output streams and stdin. ReadStdout/ReadStderr read the
//! pipe (or pty master) directly into the reply: no pump thread and no
//! intermediate buffer, since under emulation every copy of every byte costs.
//! The pipe itself is the buffer (1 MiB), so a slow host slows the container
//! down instead of growing the agent's memory.
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard};

use nix::poll::{poll, PollFd, PollFlags};

/// After a first read, how long to wait for more output before replying, and
/// up to how much: a fast writer is relayed in large replies rather than in
/// thousands of small round trips. Interactive output is delayed at most this.
const COALESCE_MS: i32 = 2;
const COALESCE_BYTES: usize = 256 * 1024;

/// Pipe capacity asked for output pipes: fewer, larger reads.
pub const PIPE_SIZE: i32 = 1 << 20;

struct OutputState {
    file: Option<File>,
    eof: bool,
}

/// The read side of a process's stdout or stderr.
pub struct OutputStream {
    state: Mutex<OutputState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// One read into the spare capacity of `out` (never zero-filled first: that
/// alone costs as much as the copy); Ok(0) is end of stream. A pty master
/// reports EIO once the terminal's last user is gone: end of stream too.
fn read_some(file: &File, out: &mut Vec<u8>) -> io::Result<usize> {
    let spare = out.capacity() - out.len();
    loop {
        // SAFETY: the pointer and length describe the vector's unused
        // capacity, which read(2) may fill; set_len below covers exactly the
        // bytes the kernel wrote.
        let n = unsafe { libc::read(file.as_raw_fd(), out.as_mut_ptr().add(out.len()).cast(), spare) };
        if n >= 0 {
            // SAFETY: read(2) initialised n <= spare bytes after len.
            unsafe { out.set_len(out.len() + n as usize) };
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EIO) => return Ok(0),
            _ => return Err(e),
        }
    }
}

fn readable_within(file: &File, ms: i32) -> bool {
    let mut fds = [PollFd::new(file.as_raw_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, ms), Ok(n) if n > 0)
}

impl OutputStream {
    pub fn new(file: File) -> OutputStream {
        OutputStream { state: Mutex::new(OutputState { file: Some(file), eof: false }) }
    }

    /// Blocks until output or end of stream; empty means end of stream.
    pub fn read(&self, max: usize) -> io::Result<Vec<u8>> {
        let mut st = lock(&self.state);
        if st.eof {
            return Ok(vec![]);
        }
        let Some(file) = st.file.as_ref() else { return Ok(vec![]) };
        let mut out = Vec::with_capacity(max);
        let mut ended = read_some(file, &mut out)? == 0;
        while !ended && out.len() < COALESCE_BYTES.min(max) && readable_within(file, COALESCE_MS) {
            ended = read_some(file, &mut out)? == 0;
        }
        if ended && out.is_empty() {
            st.eof = true;
            st.file = None;
        }
        Ok(out)
    }

    /// Closes the stream (the container is going away); readers get EOF.
    pub fn close(&self) {
        let mut st = lock(&self.state);
        st.eof = true;
        st.file = None;
    }
}

/// The write side of a process's stdin; None once closed.
#[derive(Default)]
pub struct Stdin {
    file: Mutex<Option<File>>,
}

impl Stdin {
    pub fn new(file: Option<File>) -> Stdin {
        Stdin { file: Mutex::new(file) }
    }

    fn lock(&self) -> MutexGuard<'_, Option<File>> {
        match self.file.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Writes all of `data`; Err(None) when stdin is closed.
    pub fn write(&self, data: &[u8]) -> Result<usize, Option<io::Error>> {
        let mut g = self.lock();
        match g.as_mut() {
            None => Err(None),
            Some(f) => f.write_all(data).map(|_| data.len()).map_err(Some),
        }
    }

    pub fn close(&self) {
        self.lock().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        // SAFETY: pipe() returned two fresh descriptors that nothing else owns.
        unsafe { (std::os::fd::FromRawFd::from_raw_fd(r), std::os::fd::FromRawFd::from_raw_fd(w)) }
    }

    #[test]
    fn reads_until_eof_in_bounded_replies() {
        let (r, mut w) = pipe();
        let out = OutputStream::new(r);
        let writer = std::thread::spawn(move || {
            let data = vec![42u8; 3 << 20];
            w.write_all(&data).unwrap();
        });
        let mut total = 0;
        loop {
            let chunk = out.read(100_000).unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.len() <= 100_000);
            assert!(chunk.iter().all(|b| *b == 42));
            total += chunk.len();
        }
        writer.join().unwrap();
        assert_eq!(total, 3 << 20);
        assert!(out.read(10).unwrap().is_empty());
    }

    #[test]
    fn closed_stream_reads_eof() {
        let (r, _w) = pipe();
        let out = OutputStream::new(r);
        out.close();
        assert!(out.read(10).unwrap().is_empty());
    }

    #[test]
    fn stdin_write_then_close() {
        let (mut r, w) = pipe();
        let stdin = Stdin::new(Some(w));
        assert_eq!(stdin.write(b"abc").unwrap(), 3);
        stdin.close();
        assert!(matches!(stdin.write(b"x"), Err(None)));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }
}
