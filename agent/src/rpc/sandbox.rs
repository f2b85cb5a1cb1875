//! CreateSandbox and DestroySandbox.
use super::validate;
use crate::error::Result;
use crate::proto::agent::{CreateSandboxRequest, DestroySandboxRequest, Empty, GetOOMEventRequest, NetworkConfig, OOMEvent};
use crate::sandbox::Agent;

pub fn create(a: &Agent, r: CreateSandboxRequest) -> Result<Empty> {
    validate::id(&r.sandbox_id, "sandbox_id")?;
    validate::hostname(&r.hostname)?;
    validate::storages(&r.storages)?;
    a.create_sandbox(&r.sandbox_id, &r.hostname, &r.storages, r.host_time_unix_nano)?;
    Ok(Empty::new())
}

pub fn update_network(a: &Agent, r: NetworkConfig) -> Result<Empty> {
    crate::netconf::check(&r)?;
    a.update_network(&r)?;
    Ok(Empty::new())
}

pub fn destroy(a: &Agent, _r: DestroySandboxRequest) -> Result<Empty> {
    a.destroy_sandbox()?;
    Ok(Empty::new())
}

pub fn oom_event(a: &Agent, _r: GetOOMEventRequest) -> Result<OOMEvent> {
    let mut e = OOMEvent::new();
    e.container_id = a.next_oom_event()?;
    Ok(e)
}
