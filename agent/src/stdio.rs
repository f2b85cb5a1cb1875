//! A process's output streams and stdin. A pump thread copies a pipe (or pty
//! master) into a bounded buffer; the host drains it with ReadStdout /
//! ReadStderr. When the buffer is full the pump stops reading, so a slow host
//! slows the container down instead of growing the agent's memory.
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::limits::STREAM_BUFFER;
use crate::log;

#[derive(Default)]
struct BufState {
    data: VecDeque<u8>,
    eof: bool,
}

#[derive(Default)]
pub struct StreamBuf {
    state: Mutex<BufState>,
    changed: Condvar,
}

impl StreamBuf {
    fn lock(&self) -> MutexGuard<'_, BufState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn wait<'a>(&self, g: MutexGuard<'a, BufState>) -> MutexGuard<'a, BufState> {
        match self.changed.wait(g) {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Blocks until data or end of stream; empty means end of stream.
    pub fn read(&self, max: usize) -> Vec<u8> {
        let mut s = self.lock();
        while s.data.is_empty() && !s.eof {
            s = self.wait(s);
        }
        let n = max.min(s.data.len());
        let out: Vec<u8> = s.data.drain(..n).collect();
        drop(s);
        self.changed.notify_all();
        out
    }

    fn push(&self, chunk: &[u8]) -> bool {
        let mut s = self.lock();
        while s.data.len() >= STREAM_BUFFER && !s.eof {
            s = self.wait(s);
        }
        if s.eof {
            return false;
        }
        s.data.extend(chunk);
        drop(s);
        self.changed.notify_all();
        true
    }

    /// Ends the stream: readers get what is buffered, then EOF.
    pub fn finish(&self) {
        self.lock().eof = true;
        self.changed.notify_all();
    }

    /// Ends the stream and drops what is buffered (container removed).
    pub fn discard(&self) {
        let mut s = self.lock();
        s.eof = true;
        s.data.clear();
        drop(s);
        self.changed.notify_all();
    }
}

/// Starts a thread copying `source` into a new buffer until EOF. A pty
/// master reports EIO once the terminal's last user is gone: that is EOF.
pub fn pump(mut source: File, name: &str) -> io::Result<Arc<StreamBuf>> {
    let buf = Arc::new(StreamBuf::default());
    let b = buf.clone();
    std::thread::Builder::new().name(format!("pump-{name}")).stack_size(128 * 1024).spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match source.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    if !b.push(&chunk[..n]) {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if e.raw_os_error() != Some(libc::EIO) {
                        log::debug(&format!("stream read failed: {e}"));
                    }
                    break;
                }
            }
        }
        b.finish();
    })?;
    Ok(buf)
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

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        // SAFETY: pipe() returned two fresh descriptors that nothing else owns.
        unsafe { (std::os::fd::FromRawFd::from_raw_fd(r), std::os::fd::FromRawFd::from_raw_fd(w)) }
    }

    #[test]
    fn pumps_until_eof_with_backpressure() {
        let (r, mut w) = pipe();
        let buf = pump(r, "t").unwrap();
        let writer = std::thread::spawn(move || {
            let data = vec![42u8; 3 * STREAM_BUFFER];
            w.write_all(&data).unwrap();
        });
        let mut total = 0;
        loop {
            let chunk = buf.read(100_000);
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.iter().all(|b| *b == 42));
            total += chunk.len();
        }
        writer.join().unwrap();
        assert_eq!(total, 3 * STREAM_BUFFER);
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
