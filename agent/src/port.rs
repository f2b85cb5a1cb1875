//! The host link: a virtio-serial port found by name in sysfs (there is no
//! udev in the guest). While no host peer is connected, reads return EOF:
//! `wait_for_host` polls until the host has sent something.
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use std::os::fd::AsRawFd;

const SYSFS_PORTS: &str = "/sys/class/virtio-ports";
const FIND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct VirtioPort {
    file: File,
    /// Bytes read while probing for the host, handed out before new reads.
    pending: Vec<u8>,
}

fn find_port(name: &str) -> io::Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(SYSFS_PORTS) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let port_name = std::fs::read_to_string(entry.path().join("name")).unwrap_or_default();
        if port_name.trim() == name {
            return Ok(Some(PathBuf::from("/dev").join(entry.file_name())));
        }
    }
    Ok(None)
}

impl VirtioPort {
    /// Finds the port named `name` (waiting for the driver to probe it) and
    /// opens its device node.
    pub fn open(name: &str) -> io::Result<VirtioPort> {
        let start = Instant::now();
        loop {
            if let Some(dev) = find_port(name)? {
                if dev.exists() {
                    let file = OpenOptions::new().read(true).write(true).open(&dev)?;
                    return Ok(VirtioPort { file, pending: Vec::new() });
                }
            }
            if start.elapsed() > FIND_TIMEOUT {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no virtio-serial port named {name:?} under {SYSFS_PORTS}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn writer(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Blocks until the host is connected and has sent something. While no
    /// host is connected the port polls readable and reads return EOF, so
    /// each probe reads for real and keeps what it got.
    pub fn wait_for_host(&mut self) {
        let mut idle = Duration::from_millis(1);
        let mut buf = [0u8; 4096];
        loop {
            if !self.pending.is_empty() {
                return;
            }
            let mut fds = [PollFd::new(self.file.as_raw_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, 1000);
            match self.file.read(&mut buf) {
                Ok(n) if n > 0 => {
                    self.pending.extend_from_slice(&buf[..n]);
                    return;
                }
                _ => {
                    std::thread::sleep(idle);
                    idle = (idle * 2).min(Duration::from_millis(10));
                }
            }
        }
    }
}

impl Read for VirtioPort {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending.is_empty() {
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        self.file.read(buf)
    }
}
