//! A process's output streams and stdin. ReadStdout/ReadStderr read the
//! pipe (or pty master) directly into the reply: no pump thread and no
//! intermediate buffer, since under emulation every copy of every byte costs.
//! The pipe itself is the buffer (1 MiB), so a slow host slows the container
//! down instead of growing the agent's memory.
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::poll::{poll, PollFd, PollFlags};

/// After a first read, how long to wait for more output before replying, and
/// up to how much: a fast writer is relayed in large replies rather than in
/// thousands of small round trips. Interactive output is delayed at most this.
const COALESCE_MS: i32 = 2;
const COALESCE_BYTES: usize = 256 * 1024;

/// Pipe capacity asked for output pipes: fewer, larger reads.
pub const PIPE_SIZE: i32 = 1 << 20;

/// A way to wake every thread blocked on a stream at once: closing the
/// write end of a pipe makes its read end readable (EOF) for all pollers.
struct Wake {
    read: File,
    write: Mutex<Option<File>>,
}

impl Wake {
    fn new() -> io::Result<Wake> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
        let (read, write) = unsafe { (File::from_raw_fd(r), File::from_raw_fd(w)) };
        Ok(Wake { read, write: Mutex::new(Some(write)) })
    }

    fn fire(&self) {
        lock(&self.write).take();
    }
}

/// Waits until `file` is ready for `events` or the stream is woken (closed).
/// Ok(false) when woken.
fn wait_ready(file: &File, events: PollFlags, wake: &Wake, ms: i32) -> io::Result<Option<bool>> {
    loop {
        let mut fds = [PollFd::new(file.as_raw_fd(), events), PollFd::new(wake.read.as_raw_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) => return Ok(None),
            Ok(_) => {
                let woken = fds[1].revents().map_or(false, |r| !r.is_empty());
                return Ok(Some(!woken));
            }
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

struct OutputState {
    /// Shared with readers in progress, so that none holds the lock while it
    /// waits: closing never waits for a reader, it wakes them.
    file: Option<Arc<File>>,
    eof: bool,
}

/// The read side of a process's stdout or stderr.
pub struct OutputStream {
    state: Mutex<OutputState>,
    wake: Wake,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// One read into the spare capacity of `out` (never zero-filled first: that
/// alone costs as much as the copy); Ok(Some(0)) is end of stream, Ok(None)
/// nothing to read yet (a terminal's master shares its stdin's
/// non-blocking mode). A pty master reports EIO once the terminal's last
/// user is gone: end of stream too.
fn read_some(file: &File, out: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let spare = out.capacity() - out.len();
    loop {
        // SAFETY: the pointer and length describe the vector's unused
        // capacity, which read(2) may fill; set_len below covers exactly the
        // bytes the kernel wrote.
        let n = unsafe { libc::read(file.as_raw_fd(), out.as_mut_ptr().add(out.len()).cast(), spare) };
        if n >= 0 {
            // SAFETY: read(2) initialised n <= spare bytes after len.
            unsafe { out.set_len(out.len() + n as usize) };
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EIO) => return Ok(Some(0)),
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(e),
        }
    }
}

impl OutputStream {
    pub fn new(file: File) -> io::Result<OutputStream> {
        Ok(OutputStream { state: Mutex::new(OutputState { file: Some(Arc::new(file)), eof: false }), wake: Wake::new()? })
    }

    /// Blocks until output, end of stream or close; empty means end of stream.
    pub fn read(&self, max: usize) -> io::Result<Vec<u8>> {
        let file = {
            let st = lock(&self.state);
            match (&st.file, st.eof) {
                (Some(f), false) => f.clone(),
                _ => return Ok(vec![]),
            }
        };
        let mut out = Vec::with_capacity(max);
        let mut ended = loop {
            if wait_ready(&file, PollFlags::POLLIN, &self.wake, -1)? != Some(true) {
                return Ok(vec![]);
            }
            if let Some(n) = read_some(&file, &mut out)? {
                break n == 0;
            }
        };
        while !ended && out.len() < COALESCE_BYTES.min(max) {
            if wait_ready(&file, PollFlags::POLLIN, &self.wake, COALESCE_MS)? != Some(true) {
                break;
            }
            match read_some(&file, &mut out)? {
                Some(n) => ended = n == 0,
                None => break,
            }
        }
        if ended && out.is_empty() {
            let mut st = lock(&self.state);
            st.eof = true;
            st.file = None;
        }
        Ok(out)
    }

    /// Closes the stream (the container is going away): readers blocked in
    /// read() return end of stream at once; the pipe closes when the last
    /// of them lets go of it.
    pub fn close(&self) {
        let mut st = lock(&self.state);
        st.eof = true;
        st.file = None;
        drop(st);
        self.wake.fire();
    }
}

/// The write side of a process's stdin; None once closed. Writes never
/// hold the lock while they wait for the process to read: closing wakes
/// them instead.
pub struct Stdin {
    file: Mutex<Option<Arc<File>>>,
    wake: Wake,
}

impl Stdin {
    pub fn new(file: Option<File>) -> io::Result<Stdin> {
        if let Some(f) = &file {
            // Non-blocking, so that a write waits in poll, where closing reaches it.
            let flags = nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
            let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
        }
        Ok(Stdin { file: Mutex::new(file.map(Arc::new)), wake: Wake::new()? })
    }

    /// Writes all of `data`; Err(None) when stdin is (or gets) closed.
    pub fn write(&self, data: &[u8]) -> Result<usize, Option<io::Error>> {
        let file = lock(&self.file).clone().ok_or(None)?;
        let mut done = 0;
        while done < data.len() {
            // SAFETY: writing from a valid slice of `data`.
            let n = unsafe { libc::write(file.as_raw_fd(), data[done..].as_ptr().cast(), data.len() - done) };
            if n >= 0 {
                done += n as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => match wait_ready(&file, PollFlags::POLLOUT, &self.wake, -1).map_err(Some)? {
                    Some(true) => continue,
                    _ => return Err(None),
                },
                _ => return Err(Some(e)),
            }
        }
        Ok(done)
    }

    /// Closes stdin. A socket (a port stream, forward.rs) stays open for
    /// reading through its other descriptor, so its peer learns of the end of
    /// input by a shutdown; on a pipe or a terminal that fails with ENOTSOCK,
    /// which changes nothing.
    pub fn close(&self) {
        if let Some(f) = lock(&self.file).take() {
            // SAFETY: shutdown(2) on a descriptor this stream holds open.
            unsafe { libc::shutdown(f.as_raw_fd(), libc::SHUT_WR) };
        }
        self.wake.fire();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        // SAFETY: pipe() returned two fresh descriptors that nothing else owns.
        unsafe { (std::os::fd::FromRawFd::from_raw_fd(r), std::os::fd::FromRawFd::from_raw_fd(w)) }
    }

    #[test]
    fn reads_until_eof_in_bounded_replies() {
        let (r, mut w) = pipe();
        let out = OutputStream::new(r).unwrap();
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
        let out = OutputStream::new(r).unwrap();
        out.close();
        assert!(out.read(10).unwrap().is_empty());
    }

    #[test]
    fn close_wakes_a_blocked_reader_at_once() {
        // A writer that never writes nor closes (a child that keeps stdout open).
        let (r, _w) = pipe();
        let out = Arc::new(OutputStream::new(r).unwrap());
        let reader = {
            let out = out.clone();
            std::thread::spawn(move || out.read(10).unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        let t = std::time::Instant::now();
        out.close();
        assert!(reader.join().unwrap().is_empty());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn close_wakes_a_writer_blocked_on_a_full_pipe() {
        let (_r, w) = pipe();
        let stdin = Arc::new(Stdin::new(Some(w)).unwrap());
        let writer = {
            let stdin = stdin.clone();
            // More than a pipe holds, and nobody reads.
            std::thread::spawn(move || stdin.write(&vec![0u8; 4 << 20]))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        stdin.close();
        assert!(matches!(writer.join().unwrap(), Err(None)));
    }

    #[test]
    fn stdin_write_then_close() {
        let (mut r, w) = pipe();
        let stdin = Stdin::new(Some(w)).unwrap();
        assert_eq!(stdin.write(b"abc").unwrap(), 3);
        stdin.close();
        assert!(matches!(stdin.write(b"x"), Err(None)));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }
}
