//! Health.Check and Health.Version.
use crate::error::Result;
use crate::proto::agent::{
    CheckRequest, GetMetricsRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus, Metrics,
    VersionCheckResponse,
};
use crate::sandbox::Agent;

pub fn check(_r: CheckRequest) -> Result<HealthCheckResponse> {
    let mut resp = HealthCheckResponse::new();
    resp.status = HealthCheckResponse_ServingStatus::SERVING;
    Ok(resp)
}

pub fn version(_r: CheckRequest) -> Result<VersionCheckResponse> {
    let mut resp = VersionCheckResponse::new();
    resp.grpc_version = "ttrpc".into();
    resp.agent_version = env!("CARGO_PKG_VERSION").into();
    Ok(resp)
}

/// The number after `key` in a "Key: value [kB]" file (/proc), 0 if absent.
fn field(text: &str, key: &str) -> u64 {
    crate::cgroup::parse_flat_keyed(text).get(key).copied().unwrap_or(0)
}

pub fn metrics(_a: &Agent, _r: GetMetricsRequest) -> Result<Metrics> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mut m = Metrics::new();
    m.metrics = format!(
        "hako_agent_rss_bytes {}\nhako_agent_threads {}\nhako_guest_memory_total_bytes {}\nhako_guest_memory_available_bytes {}\n",
        field(&rollup, "Rss:") * 1024,
        field(&status, "Threads:"),
        field(&meminfo, "MemTotal:") * 1024,
        field(&meminfo, "MemAvailable:") * 1024,
    );
    Ok(m)
}
