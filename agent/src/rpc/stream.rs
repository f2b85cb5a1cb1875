//! WriteStdin, ReadStdout, ReadStderr, CloseStdin, CloseOutput and
//! TtyWinResize; PortConnect and PortClose. The stream calls address a
//! process's streams, or with an empty container_id a port stream.
use super::validate;
use crate::error::{AgentError, Result};
use crate::limits::MAX_STREAM_CHUNK;
use crate::proto::agent::{
    CloseOutputRequest, CloseStdinRequest, Empty, PortCloseRequest, PortConnectRequest, PortConnectResponse, ReadStreamRequest,
    ReadStreamResponse, TtyWinResizeRequest, WriteStreamRequest, WriteStreamResponse,
};
use crate::sandbox::{Agent, Stream};

fn ids(container_id: &str, exec_id: &str) -> Result<()> {
    if container_id.is_empty() {
        return validate::port_stream_id(exec_id);
    }
    validate::id(container_id, "container_id")?;
    validate::exec_id(exec_id)
}

pub fn write_stdin(a: &Agent, r: WriteStreamRequest) -> Result<WriteStreamResponse> {
    ids(&r.container_id, &r.exec_id)?;
    if r.data.len() > MAX_STREAM_CHUNK {
        return Err(AgentError::InvalidArgument(format!("stdin chunk larger than {MAX_STREAM_CHUNK} bytes")));
    }
    let n = a.write_stdin(&r.container_id, &r.exec_id, validate::stream_fd(r.fd)?, &r.data)?;
    let mut resp = WriteStreamResponse::new();
    resp.len = n as u32;
    Ok(resp)
}

fn read(a: &Agent, r: ReadStreamRequest, which: Stream) -> Result<ReadStreamResponse> {
    ids(&r.container_id, &r.exec_id)?;
    let which = match validate::stream_fd(r.fd)? {
        0 => which,
        fd => Stream::Extra(fd),
    };
    let mut resp = ReadStreamResponse::new();
    resp.data = a.read_stream(&r.container_id, &r.exec_id, which, r.len as usize)?;
    Ok(resp)
}

pub fn read_stdout(a: &Agent, r: ReadStreamRequest) -> Result<ReadStreamResponse> {
    read(a, r, Stream::Stdout)
}

pub fn read_stderr(a: &Agent, r: ReadStreamRequest) -> Result<ReadStreamResponse> {
    read(a, r, Stream::Stderr)
}

pub fn close_stdin(a: &Agent, r: CloseStdinRequest) -> Result<Empty> {
    ids(&r.container_id, &r.exec_id)?;
    a.close_stdin(&r.container_id, &r.exec_id, validate::stream_fd(r.fd)?)?;
    Ok(Empty::new())
}

pub fn close_output(a: &Agent, r: CloseOutputRequest) -> Result<Empty> {
    ids(&r.container_id, &r.exec_id)?;
    let which = match validate::stream_fd(r.fd)? {
        0 if r.stderr => Stream::Stderr,
        0 => Stream::Stdout,
        fd => Stream::Extra(fd),
    };
    a.close_output(&r.container_id, &r.exec_id, which)?;
    Ok(Empty::new())
}

pub fn resize(a: &Agent, r: TtyWinResizeRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    validate::exec_id(&r.exec_id)?;
    if r.row == 0 || r.column == 0 || r.row > u32::from(u16::MAX) || r.column > u32::from(u16::MAX) {
        return Err(AgentError::InvalidArgument(format!("terminal size {}x{} is out of range", r.row, r.column)));
    }
    a.resize_tty(&r.container_id, &r.exec_id, r.row as u16, r.column as u16)?;
    Ok(Empty::new())
}

pub fn port_connect(a: &Agent, r: PortConnectRequest) -> Result<PortConnectResponse> {
    let port = u16::try_from(r.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| AgentError::InvalidArgument(format!("port {} is not 1 to 65535", r.port)))?;
    let mut resp = PortConnectResponse::new();
    resp.stream_id = a.ports.connect(port)?;
    Ok(resp)
}

pub fn port_close(a: &Agent, r: PortCloseRequest) -> Result<Empty> {
    validate::port_stream_id(&r.stream_id)?;
    a.ports.close(&r.stream_id)?;
    Ok(Empty::new())
}
