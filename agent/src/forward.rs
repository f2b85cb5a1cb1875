//! Port streams: TCP connections the host opens to ports of the sandbox's
//! loopback (127.0.0.1 in the guest, where the pod's containers listen), for
//! `kubectl port-forward`. Each is read and written through the stream types
//! of a process's stdio, so it gets their bounds and wake-ups; closing its
//! input half-closes the connection. The host frees it with PortClose.
use std::collections::HashMap;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{AgentError, Result};
use crate::limits::MAX_PORT_STREAMS;
use crate::stdio::{OutputStream, Stdin};

/// A port of the guest's own loopback answers at once, or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PortStream {
    pub output: Arc<OutputStream>,
    pub input: Stdin,
}

#[derive(Default)]
pub struct PortStreams {
    streams: Mutex<HashMap<String, Arc<PortStream>>>,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn internal(what: &str) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |e| AgentError::Internal(format!("{what}: {e}"))
}

impl PortStreams {
    /// Connects to 127.0.0.1:`port`, or to [::1]:`port` when that is
    /// refused (containerd's order on a node); the new stream's id.
    /// FAILED_PRECONDITION when nothing listens on either.
    pub fn connect(&self, port: u16) -> Result<String> {
        let full = || AgentError::ResourceExhausted(format!("more than {MAX_PORT_STREAMS} port streams open"));
        if lock(&self.streams).len() >= MAX_PORT_STREAMS {
            return Err(full());
        }
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        let tcp = TcpStream::connect_timeout(&v4, CONNECT_TIMEOUT)
            .or_else(|e| TcpStream::connect_timeout(&v6, CONNECT_TIMEOUT).map_err(|_| e))
            .map_err(|e| AgentError::FailedPrecondition(format!("connect to 127.0.0.1:{port} in the guest: {e}")))?;
        // Interactive traffic (a shell, a database protocol) is not held back.
        tcp.set_nodelay(true).map_err(internal("set TCP_NODELAY"))?;
        let reader = tcp.try_clone().map_err(internal("duplicate the connection"))?;
        let stream = PortStream {
            output: Arc::new(OutputStream::new(File::from(OwnedFd::from(reader))).map_err(internal("port stream"))?),
            input: Stdin::new(Some(File::from(OwnedFd::from(tcp)))).map_err(internal("port stream"))?,
        };
        let id = (self.next.fetch_add(1, Ordering::SeqCst) + 1).to_string();
        let mut streams = lock(&self.streams);
        // Counted again: others may have connected meanwhile.
        if streams.len() >= MAX_PORT_STREAMS {
            return Err(full());
        }
        streams.insert(id.clone(), Arc::new(stream));
        Ok(id)
    }

    pub fn get(&self, id: &str) -> Result<Arc<PortStream>> {
        lock(&self.streams).get(id).cloned().ok_or_else(|| AgentError::NotFound(format!("port stream {id} not found")))
    }

    /// Frees the stream: readers and writers blocked on it return at once,
    /// and the connection closes when the last of them lets go.
    pub fn close(&self, id: &str) -> Result<()> {
        let s = lock(&self.streams).remove(id).ok_or_else(|| AgentError::NotFound(format!("port stream {id} not found")))?;
        s.input.close();
        s.output.close();
        Ok(())
    }

    pub fn close_all(&self) {
        let ids: Vec<String> = lock(&self.streams).keys().cloned().collect();
        for id in ids {
            let _ = self.close(&id);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.streams).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn listener() -> (TcpListener, u16) {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    }

    #[test]
    fn relays_both_ways_and_half_closes() {
        let (l, port) = listener();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut got = Vec::new();
            // Ends only when the host side half-closes.
            c.read_to_end(&mut got).unwrap();
            c.write_all(format!("got {} bytes", got.len()).as_bytes()).unwrap();
        });
        let ports = PortStreams::default();
        let id = ports.connect(port).unwrap();
        let s = ports.get(&id).unwrap();
        assert_eq!(s.input.write(&vec![7u8; 300_000]).unwrap(), 300_000);
        s.input.close();
        let mut reply = Vec::new();
        loop {
            let chunk = s.output.read(4096).unwrap();
            if chunk.is_empty() {
                break;
            }
            reply.extend(chunk);
        }
        assert_eq!(String::from_utf8(reply).unwrap(), "got 300000 bytes");
        server.join().unwrap();
        ports.close(&id).unwrap();
        assert!(matches!(ports.get(&id), Err(AgentError::NotFound(_))));
        assert_eq!(ports.len(), 0);
    }

    #[test]
    fn a_server_on_the_ipv6_loopback_only_is_reached() {
        let Ok(l) = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) else {
            // No IPv6 on this machine (the guest's kernel has it).
            return;
        };
        let port = l.local_addr().unwrap().port();
        let ports = PortStreams::default();
        let id = ports.connect(port).unwrap();
        let (mut c, _) = l.accept().unwrap();
        c.write_all(b"six").unwrap();
        assert_eq!(ports.get(&id).unwrap().output.read(10).unwrap(), b"six");
    }

    #[test]
    fn a_port_nobody_listens_on_is_refused() {
        let (l, port) = listener();
        drop(l);
        let ports = PortStreams::default();
        assert!(matches!(ports.connect(port), Err(AgentError::FailedPrecondition(_))));
        assert_eq!(ports.len(), 0);
    }

    #[test]
    fn streams_are_bounded_and_close_all_frees_them() {
        let (l, port) = listener();
        let ports = PortStreams::default();
        for _ in 0..MAX_PORT_STREAMS {
            ports.connect(port).unwrap();
        }
        assert!(matches!(ports.connect(port), Err(AgentError::ResourceExhausted(_))));
        ports.close_all();
        assert_eq!(ports.len(), 0);
        drop(l);
    }

    #[test]
    fn close_wakes_a_blocked_reader() {
        let (l, port) = listener();
        let ports = Arc::new(PortStreams::default());
        let id = ports.connect(port).unwrap();
        let _held = l.accept().unwrap();
        let s = ports.get(&id).unwrap();
        let reader = std::thread::spawn(move || s.output.read(10).unwrap());
        std::thread::sleep(Duration::from_millis(50));
        ports.close(&id).unwrap();
        assert!(reader.join().unwrap().is_empty());
    }
}
