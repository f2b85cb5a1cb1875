//! CreateSandbox and DestroySandbox.
use super::validate;
use crate::error::Result;
use crate::proto::agent::{
    CreateSandboxRequest, DestroySandboxRequest, Empty, GetOOMEventRequest, NetworkConfig, OOMEvent, OnlineCpuMemRequest,
    OnlineCpuMemResponse,
};
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

/// The longest the host may have the agent wait for hot-plugged CPUs and memory.
const MAX_ONLINE_WAIT_MS: u32 = 10_000;

pub fn online_cpu_mem(r: OnlineCpuMemRequest) -> Result<OnlineCpuMemResponse> {
    let wait = std::time::Duration::from_millis(u64::from(r.timeout_ms.min(MAX_ONLINE_WAIT_MS)));
    let root = std::path::Path::new(crate::hotplug::SYS_ROOT);
    let (cpus, memory_mib) = crate::hotplug::online_cpu_mem(root, r.cpus, r.memory_mib, wait)?;
    let mut resp = OnlineCpuMemResponse::new();
    resp.cpus = cpus;
    resp.memory_mib = memory_mib;
    Ok(resp)
}
