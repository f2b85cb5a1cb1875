//! WriteStdin, ReadStdout, ReadStderr, CloseStdin, CloseOutput and TtyWinResize.
use super::validate;
use crate::error::{AgentError, Result};
use crate::limits::MAX_STREAM_CHUNK;
use crate::proto::agent::{
    CloseOutputRequest, CloseStdinRequest, Empty, ReadStreamRequest, ReadStreamResponse, TtyWinResizeRequest, WriteStreamRequest,
    WriteStreamResponse,
};
use crate::sandbox::{Agent, Stream};

fn ids(container_id: &str, exec_id: &str) -> Result<()> {
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
    ids(&r.container_id, &r.exec_id)?;
    if r.row == 0 || r.column == 0 || r.row > u32::from(u16::MAX) || r.column > u32::from(u16::MAX) {
        return Err(AgentError::InvalidArgument(format!("terminal size {}x{} is out of range", r.row, r.column)));
    }
    a.resize_tty(&r.container_id, &r.exec_id, r.row as u16, r.column as u16)?;
    Ok(Empty::new())
}
