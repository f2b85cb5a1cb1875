//! ttrpc framing (10-byte header, protobuf envelope) and a small unary
//! server. Written here because the ttrpc crate only serves sockets it
//! accepts itself, and the guest transport is a virtio-serial character
//! device. Frame facts: length u32 BE, stream id u32 BE, type u8, flags u8.
//!
//! Hostile input never crashes or stalls the server: oversized frames are
//! skipped and answered RESOURCE_EXHAUSTED, garbage payloads INVALID_ARGUMENT,
//! unknown frame types are ignored, and a truncated frame ends the connection.
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use protobuf::Message;

use crate::error::{code, AgentError};
use crate::limits::{MAX_FRAME_PAYLOAD, MAX_IN_FLIGHT, RESERVED_SHORT};
use crate::log;
use crate::pool::Pool;
use crate::proto::agent::ErrorDetail;
use crate::proto::ttrpc::{Any, Request, Response, Status};

pub const HEADER_LEN: usize = 10;
pub const TYPE_REQUEST: u8 = 1;
pub const TYPE_RESPONSE: u8 = 2;
const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/hako.agent.v1.ErrorDetail";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub stream_id: u32,
    pub kind: u8,
    pub flags: u8,
}

impl Header {
    pub fn parse(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            len: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            stream_id: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            kind: b[8],
            flags: b[9],
        }
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&self.len.to_be_bytes());
        b[4..8].copy_from_slice(&self.stream_id.to_be_bytes());
        b[8] = self.kind;
        b[9] = self.flags;
        b
    }
}

#[cfg(test)]
pub fn encode_frame(stream_id: u32, kind: u8, payload: &[u8]) -> Vec<u8> {
    let header = Header { len: payload.len() as u32, stream_id, kind, flags: 0 };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
    out
}

/// What reading one frame produced.
#[derive(Debug)]
pub enum Incoming {
    Frame(Header, Vec<u8>),
    /// The payload was larger than allowed and has been skipped.
    Oversized(Header),
    /// The peer went away (possibly in the middle of a frame).
    Closed,
}

/// Reads exactly buf.len() bytes; Ok(false) when the stream ended first.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => return Ok(false),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

pub fn read_frame<R: Read>(r: &mut R) -> io::Result<Incoming> {
    let mut hb = [0u8; HEADER_LEN];
    if !read_full(r, &mut hb)? {
        return Ok(Incoming::Closed);
    }
    let header = Header::parse(&hb);
    let len = header.len as usize;
    if len > MAX_FRAME_PAYLOAD {
        let mut left = len;
        let mut sink = vec![0u8; 64 * 1024];
        while left > 0 {
            let n = left.min(sink.len());
            if !read_full(r, &mut sink[..n])? {
                return Ok(Incoming::Closed);
            }
            left -= n;
        }
        return Ok(Incoming::Oversized(header));
    }
    let mut payload = vec![0u8; len];
    if !read_full(r, &mut payload)? {
        return Ok(Incoming::Closed);
    }
    Ok(Incoming::Frame(header, payload))
}

/// Answers requests. Implemented by rpc::Dispatcher.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, service: &str, method: &str, payload: &[u8]) -> Result<Vec<u8>, AgentError>;
    /// Runs after the reply to a request was written (e.g. power off after
    /// DestroySandbox, once the host has its answer).
    fn after_reply(&self, _service: &str, _method: &str) {}
}

fn error_response(code: i32, message: String, reason: Option<&str>) -> Response {
    let mut status = Status::new();
    status.code = code;
    status.message = message;
    if let Some(reason) = reason {
        let mut detail = ErrorDetail::new();
        detail.reason = reason.to_string();
        if let Ok(value) = detail.write_to_bytes() {
            let mut any = Any::new();
            any.type_url = ERROR_DETAIL_TYPE_URL.to_string();
            any.value = value;
            status.details.push(any);
        }
    }
    let mut resp = Response::new();
    resp.status = protobuf::SingularPtrField::some(status);
    resp
}

/// A reply body: either a ready Response message, or (the common success
/// case) a payload that is framed as Response{payload} without copying it.
enum Body {
    Message(Vec<u8>),
    Payload(Vec<u8>),
}

impl Body {
    /// The bytes that precede the payload, and the payload.
    fn parts(&self) -> (Vec<u8>, &[u8]) {
        match self {
            Body::Message(m) => (vec![], m.as_slice()),
            Body::Payload(p) => {
                // Field 2 (payload), wire type 2: tag 0x12 then a varint length.
                let mut prefix = vec![0x12];
                let mut n = p.len() as u64;
                loop {
                    let byte = (n & 0x7f) as u8;
                    n >>= 7;
                    if n == 0 {
                        prefix.push(byte);
                        break;
                    }
                    prefix.push(byte | 0x80);
                }
                (prefix, p.as_slice())
            }
        }
    }
}

fn response_body(result: Result<Vec<u8>, AgentError>) -> Body {
    let resp = match result {
        Ok(payload) if payload.len() + 16 > MAX_FRAME_PAYLOAD => error_response(
            code::RESOURCE_EXHAUSTED,
            format!("response of {} bytes exceeds the maximum message size", payload.len()),
            Some("resource_exhausted"),
        ),
        // An empty payload is an empty Response (no fields at all).
        Ok(payload) if payload.is_empty() => return Body::Message(vec![]),
        Ok(payload) => return Body::Payload(payload),
        Err(e) => error_response(e.code(), e.to_string(), Some(e.reason())),
    };
    // Serialising a message we just built cannot fail; an empty reply is the
    // safe fallback that still ends the stream.
    Body::Message(resp.write_to_bytes().unwrap_or_default())
}

/// One connection's writer, shared by the worker threads. Replies to
/// requests from an earlier connection (generation) are dropped.
pub struct Replier<W: Write + Send + 'static> {
    writer: Arc<Mutex<W>>,
    generation: u64,
    current: Arc<AtomicU64>,
}

impl<W: Write + Send + 'static> Clone for Replier<W> {
    fn clone(&self) -> Self {
        Replier { writer: self.writer.clone(), generation: self.generation, current: self.current.clone() }
    }
}

impl<W: Write + Send + 'static> Replier<W> {
    fn send(&self, stream_id: u32, body: &Body) {
        if self.current.load(Ordering::SeqCst) != self.generation {
            return;
        }
        let (prefix, payload) = body.parts();
        let len = (prefix.len() + payload.len()) as u32;
        let mut head = Header { len, stream_id, kind: TYPE_RESPONSE, flags: 0 }.encode().to_vec();
        head.extend_from_slice(&prefix);
        let mut w = match self.writer.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        let written = w.write_all(&head).and_then(|_| w.write_all(payload)).and_then(|_| w.flush());
        if let Err(e) = written {
            log::debug(&format!("reply on stream {stream_id} lost: {e}"));
        }
    }
}

/// Methods that may wait for long (for a process, its output, an OOM kill,
/// a process reading its stdin).
const LONG_POLLS: [&str; 5] = ["WaitProcess", "ReadStdout", "ReadStderr", "GetOOMEvent", "WriteStdin"];

/// Requests being handled. Long polls may take all but RESERVED_SHORT of
/// the MAX_IN_FLIGHT slots, so that a host (or a guest's processes) that
/// keeps many of them waiting cannot shut out the short calls, SignalProcess
/// and DeleteProcess among them.
#[derive(Default)]
pub struct InFlight {
    all: AtomicUsize,
    long: AtomicUsize,
}

impl InFlight {
    fn admit(&self, method: &str) -> Result<bool, AgentError> {
        let long = LONG_POLLS.contains(&method);
        if self.all.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.all.fetch_sub(1, Ordering::SeqCst);
            return Err(AgentError::ResourceExhausted(format!("more than {MAX_IN_FLIGHT} requests in flight")));
        }
        if long && self.long.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT - RESERVED_SHORT {
            self.long.fetch_sub(1, Ordering::SeqCst);
            self.all.fetch_sub(1, Ordering::SeqCst);
            let most = MAX_IN_FLIGHT - RESERVED_SHORT;
            return Err(AgentError::ResourceExhausted(format!("more than {most} long-polling requests in flight")));
        }
        Ok(long)
    }

    fn done(&self, long: bool) {
        if long {
            self.long.fetch_sub(1, Ordering::SeqCst);
        }
        self.all.fetch_sub(1, Ordering::SeqCst);
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.all.load(Ordering::SeqCst)
    }
}

/// Serves one connection until the peer goes away.
pub fn serve_connection<R: Read, W: Write + Send + 'static>(
    reader: &mut R,
    replier: Replier<W>,
    handler: Arc<dyn Handler>,
    in_flight: Arc<InFlight>,
    pool: &Pool,
) {
    loop {
        let incoming = match read_frame(reader) {
            Ok(i) => i,
            Err(e) => {
                log::debug(&format!("read failed: {e}"));
                return;
            }
        };
        let (header, payload) = match incoming {
            Incoming::Closed => return,
            Incoming::Oversized(h) => {
                let msg = format!(
                    "message length {} exceeds maximum message size of {}",
                    h.len, MAX_FRAME_PAYLOAD
                );
                let body = response_body(Err(AgentError::ResourceExhausted(msg)));
                replier.send(h.stream_id, &body);
                continue;
            }
            Incoming::Frame(h, p) => (h, p),
        };
        if header.kind != TYPE_REQUEST {
            continue;
        }
        if header.stream_id % 2 == 0 {
            let e = AgentError::InvalidArgument("StreamID must be odd for client initiated streams".into());
            replier.send(header.stream_id, &response_body(Err(e)));
            continue;
        }
        let request = match Request::parse_from_bytes(&payload) {
            Ok(r) => r,
            Err(e) => {
                let e = AgentError::InvalidArgument(format!("malformed ttrpc request: {e}"));
                replier.send(header.stream_id, &response_body(Err(e)));
                continue;
            }
        };
        let long = match in_flight.admit(&request.method) {
            Ok(long) => long,
            Err(e) => {
                replier.send(header.stream_id, &response_body(Err(e)));
                continue;
            }
        };
        let (h, r, counter) = (handler.clone(), replier.clone(), in_flight.clone());
        let stream_id = header.stream_id;
        let spawned = pool.submit(Box::new(move || {
            let result = h.handle(&request.service, &request.method, &request.payload);
            r.send(stream_id, &response_body(result));
            counter.done(long);
            h.after_reply(&request.service, &request.method);
        }));
        if let Err(e) = spawned {
            in_flight.done(long);
            let e = AgentError::ResourceExhausted(format!("cannot start a worker: {e}"));
            replier.send(stream_id, &response_body(Err(e)));
        }
    }
}

/// Serves the virtio-serial port forever, one host connection after
/// another; `on_first_host` runs when the first one arrives.
pub fn serve_port(port: crate::port::VirtioPort, handler: Arc<dyn Handler>, on_first_host: Box<dyn FnOnce() + Send>) {
    let mut on_first_host = Some(on_first_host);
    let current = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(InFlight::default());
    let writer = match port.writer() {
        Ok(w) => Arc::new(Mutex::new(w)),
        Err(e) => {
            log::error(&format!("cannot duplicate the port: {e}"));
            return;
        }
    };
    let mut reader = port;
    let pool = Pool::default();
    loop {
        reader.wait_for_host();
        if let Some(f) = on_first_host.take() {
            f();
        }
        let generation = current.fetch_add(1, Ordering::SeqCst) + 1;
        log::debug(&format!("host connected (session {generation})"));
        let replier = Replier { writer: writer.clone(), generation, current: current.clone() };
        serve_connection(&mut reader, replier, handler.clone(), in_flight.clone(), &pool);
        current.fetch_add(1, Ordering::SeqCst);
        log::debug("host disconnected");
    }
}

/// Serves a Unix socket (test mode), one thread per connection.
pub fn serve_unix(path: &std::path::Path, handler: Arc<dyn Handler>) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    let in_flight = Arc::new(InFlight::default());
    let pool = Pool::default();
    for conn in listener.incoming() {
        let stream = conn?;
        let writer = Arc::new(Mutex::new(stream.try_clone()?));
        let replier = Replier { writer, generation: 0, current: Arc::new(AtomicU64::new(0)) };
        let (h, counter, pool) = (handler.clone(), in_flight.clone(), pool.clone());
        std::thread::spawn(move || {
            let mut reader = stream;
            serve_connection(&mut reader, replier, h, counter, &pool);
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn long_polls_never_take_the_slots_of_short_calls() {
        let f = InFlight::default();
        for _ in 0..MAX_IN_FLIGHT - RESERVED_SHORT {
            assert!(f.admit("ReadStdout").unwrap());
        }
        assert!(f.admit("WaitProcess").is_err());
        for _ in 0..RESERVED_SHORT {
            assert!(!f.admit("SignalProcess").unwrap());
        }
        assert!(f.admit("SignalProcess").is_err());
        f.done(true);
        assert!(f.admit("DeleteProcess").is_ok());
    }

    #[test]
    fn header_round_trip() {
        let h = Header { len: 40, stream_id: 3, kind: TYPE_REQUEST, flags: 0 };
        assert_eq!(h.encode(), [0, 0, 0, 0x28, 0, 0, 0, 3, 1, 0]);
        assert_eq!(Header::parse(&h.encode()), h);
    }

    #[test]
    fn truncated_header_and_payload_are_closed() {
        let mut short = Cursor::new(vec![0u8, 0, 0]);
        assert!(matches!(read_frame(&mut short).unwrap(), Incoming::Closed));
        let mut frame = encode_frame(1, TYPE_REQUEST, b"abcdef");
        frame.truncate(12);
        assert!(matches!(read_frame(&mut Cursor::new(frame)).unwrap(), Incoming::Closed));
    }

    #[test]
    fn oversized_payload_is_skipped() {
        let len = (MAX_FRAME_PAYLOAD + 1) as u32;
        let mut bytes = Header { len, stream_id: 5, kind: TYPE_REQUEST, flags: 0 }.encode().to_vec();
        bytes.extend(std::iter::repeat(7u8).take(len as usize));
        bytes.extend(encode_frame(7, TYPE_REQUEST, b"x"));
        let mut c = Cursor::new(bytes);
        assert!(matches!(read_frame(&mut c).unwrap(), Incoming::Oversized(h) if h.stream_id == 5));
        assert!(matches!(read_frame(&mut c).unwrap(), Incoming::Frame(h, p) if h.stream_id == 7 && p == b"x"));
    }

    struct Echo;
    impl Handler for Echo {
        fn handle(&self, service: &str, method: &str, payload: &[u8]) -> Result<Vec<u8>, AgentError> {
            if service == "t" && method == "echo" {
                Ok(payload.to_vec())
            } else {
                Err(AgentError::Unimplemented(format!("method {method}")))
            }
        }
    }

    fn request(stream: u32, service: &str, method: &str, payload: &[u8]) -> Vec<u8> {
        let mut r = Request::new();
        r.service = service.into();
        r.method = method.into();
        r.payload = payload.to_vec();
        encode_frame(stream, TYPE_REQUEST, &r.write_to_bytes().unwrap())
    }

    /// A reader that hands its bytes out in chunks of the given sizes, as a
    /// port delivers them.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.next % self.sizes.len()].max(1);
            self.next += 1;
            let n = size.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// xorshift64: deterministic, so a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn raw_header(len: u32, stream: u32, kind: u8) -> Vec<u8> {
        Header { len, stream_id: stream, kind, flags: 0 }.encode().to_vec()
    }

    /// Random hostile streams: valid requests, lengths 0, max+1 and
    /// 0xFFFFFFFF, wrong frame types, even and unknown ids, garbage, a
    /// truncated frame last, all split at random. The server must end at
    /// the stream's end, answer only odd ids it was sent, and never panic.
    #[test]
    fn hostile_streams_split_at_random_never_stall_or_crash_the_server() {
        for seed in 1..=300u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut data = vec![];
            for _ in 0..rng.below(12) {
                let stream = (rng.below(50) as u32) * 2 + 1;
                match rng.below(8) {
                    0 | 1 => data.extend(request(stream, "t", "echo", b"hi")),
                    2 => data.extend(raw_header(0, stream, TYPE_REQUEST)),
                    3 => {
                        let len = if rng.below(2) == 0 { MAX_FRAME_PAYLOAD as u32 + 1 } else { u32::MAX };
                        data.extend(raw_header(len, stream, TYPE_REQUEST));
                        // Fewer bytes than claimed may follow: the stream then ends inside it.
                        data.extend(vec![0u8; rng.below(4096) as usize]);
                    }
                    4 => data.extend(encode_frame(stream, (rng.below(250) as u8) + 3, b"xyz")),
                    5 => data.extend(request(stream - 1, "t", "echo", b"even")),
                    6 => {
                        let garbage: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                        data.extend(encode_frame(stream, TYPE_REQUEST, &garbage));
                    }
                    _ => data.extend(encode_frame(stream, TYPE_RESPONSE, b"")),
                }
            }
            if rng.below(3) == 0 {
                let f = request(99, "t", "echo", b"cut");
                data.extend(&f[..(rng.below(f.len() as u64 - 1) as usize + 1)]);
            }
            let sizes: Vec<usize> = (0..8).map(|_| rng.below(17) as usize + 1).collect();
            let out = Arc::new(Mutex::new(Vec::<u8>::new()));
            let replier = Replier { writer: out.clone(), generation: 0, current: Arc::new(AtomicU64::new(0)) };
            let in_flight = Arc::new(InFlight::default());
            let mut reader = Chunked { data, at: 0, sizes, next: 0 };
            serve_connection(&mut reader, replier, Arc::new(Echo), in_flight.clone(), &Pool::default());
            while in_flight.count() != 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let bytes = out.lock().unwrap().clone();
            let mut c = Cursor::new(bytes);
            while let Incoming::Frame(h, _) = read_frame(&mut c).unwrap() {
                assert_eq!(h.kind, TYPE_RESPONSE, "seed {seed}");
                // Odd ids get answers (a request, or its garbage/oversize refused); even ids a refusal.
                assert!(h.stream_id % 2 == 0 || h.stream_id < 200, "seed {seed}: reply on stream {}", h.stream_id);
            }
        }
    }

    fn serve_bytes(input: Vec<u8>) -> Vec<(u32, Response)> {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let replier = Replier { writer: out.clone(), generation: 0, current: Arc::new(AtomicU64::new(0)) };
        let in_flight = Arc::new(InFlight::default());
        serve_connection(&mut Cursor::new(input), replier, Arc::new(Echo), in_flight.clone(), &Pool::default());
        while in_flight.count() != 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let bytes = out.lock().unwrap().clone();
        let mut c = Cursor::new(bytes);
        let mut replies = vec![];
        while let Incoming::Frame(h, p) = read_frame(&mut c).unwrap() {
            replies.push((h.stream_id, Response::parse_from_bytes(&p).unwrap()));
        }
        replies.sort_by_key(|(s, _)| *s);
        replies
    }

    #[test]
    fn answers_garbage_even_streams_and_unknown_methods() {
        let mut input = request(1, "t", "echo", b"hi");
        input.extend(encode_frame(3, TYPE_REQUEST, &[0xff, 0xff, 0xff]));
        input.extend(request(4, "t", "echo", b"no"));
        input.extend(encode_frame(9, 0x7f, b"ignored"));
        input.extend(request(5, "t", "nope", b""));
        let replies = serve_bytes(input);
        let codes: Vec<(u32, i32)> =
            replies.iter().map(|(s, r)| (*s, r.status.as_ref().map(|s| s.code).unwrap_or(0))).collect();
        assert_eq!(codes, vec![(1, 0), (3, code::INVALID_ARGUMENT), (4, code::INVALID_ARGUMENT), (5, code::UNIMPLEMENTED)]);
        assert_eq!(replies[0].1.payload, b"hi");
    }
}
