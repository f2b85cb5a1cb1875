//! Health.Check and Health.Version.
use crate::error::Result;
use crate::proto::agent::{CheckRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus, VersionCheckResponse};
use crate::sandbox::Agent;

pub fn check(_a: &Agent, _r: CheckRequest) -> Result<HealthCheckResponse> {
    let mut resp = HealthCheckResponse::new();
    resp.status = HealthCheckResponse_ServingStatus::SERVING;
    Ok(resp)
}

pub fn version(_a: &Agent, _r: CheckRequest) -> Result<VersionCheckResponse> {
    let mut resp = VersionCheckResponse::new();
    resp.grpc_version = "ttrpc".into();
    resp.agent_version = env!("CARGO_PKG_VERSION").into();
    Ok(resp)
}
