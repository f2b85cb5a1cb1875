//! ExecProcess, SignalProcess and WaitProcess.
use super::validate;
use crate::error::{AgentError, Result};
use crate::proto::agent::{
    DeleteProcessRequest, Empty, ExecProcessRequest, ExecProcessResponse, ListProcessesRequest, ListProcessesResponse, ProcessEntry,
    SignalProcessRequest, WaitProcessRequest, WaitProcessResponse,
};
use crate::sandbox::Agent;

pub fn exec(a: &Agent, r: ExecProcessRequest) -> Result<ExecProcessResponse> {
    validate::id(&r.container_id, "container_id")?;
    if r.exec_id.is_empty() {
        return Err(AgentError::InvalidArgument("exec_id is required".into()));
    }
    validate::exec_id(&r.exec_id)?;
    let mut resp = ExecProcessResponse::new();
    let extra_outputs = validate::extra_fds(&r.extra_fds)?;
    resp.pid = a.exec_process(&r.container_id, &r.exec_id, &r.process_json, &extra_outputs)?;
    Ok(resp)
}

pub fn signal(a: &Agent, r: SignalProcessRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    validate::exec_id(&r.exec_id)?;
    let sig = validate::signal(r.signal)?;
    if r.all && !r.exec_id.is_empty() {
        return Err(AgentError::InvalidArgument("all applies to the container, not to an exec".into()));
    }
    a.signal_process(&r.container_id, &r.exec_id, sig, r.all)?;
    Ok(Empty::new())
}

pub fn wait(a: &Agent, r: WaitProcessRequest) -> Result<WaitProcessResponse> {
    validate::id(&r.container_id, "container_id")?;
    validate::exec_id(&r.exec_id)?;
    let exit = a.wait_process(&r.container_id, &r.exec_id)?;
    let mut resp = WaitProcessResponse::new();
    resp.status = exit.status;
    resp.signal = exit.signal;
    Ok(resp)
}

pub fn list(a: &Agent, r: ListProcessesRequest) -> Result<ListProcessesResponse> {
    validate::id(&r.container_id, "container_id")?;
    let mut resp = ListProcessesResponse::new();
    for (pid, exec_id) in a.list_processes(&r.container_id)? {
        let mut e = ProcessEntry::new();
        e.pid = pid;
        e.exec_id = exec_id;
        resp.processes.push(e);
    }
    Ok(resp)
}

pub fn delete(a: &Agent, r: DeleteProcessRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    if r.exec_id.is_empty() {
        return Err(AgentError::InvalidArgument("exec_id is required (remove the container instead)".into()));
    }
    validate::exec_id(&r.exec_id)?;
    a.delete_process(&r.container_id, &r.exec_id)?;
    Ok(Empty::new())
}
