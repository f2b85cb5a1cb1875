//! ExecProcess, SignalProcess and WaitProcess.
use super::validate;
use crate::error::{AgentError, Result};
use crate::proto::agent::{Empty, ExecProcessRequest, SignalProcessRequest, WaitProcessRequest, WaitProcessResponse};
use crate::sandbox::Agent;

pub fn exec(a: &Agent, r: ExecProcessRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    if r.exec_id.is_empty() {
        return Err(AgentError::InvalidArgument("exec_id is required".into()));
    }
    validate::exec_id(&r.exec_id)?;
    a.exec_process(&r.container_id, &r.exec_id, &r.process_json)?;
    Ok(Empty::new())
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
