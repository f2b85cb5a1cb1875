//! CreateContainer, StartContainer and RemoveContainer.
use std::time::Duration;

use super::validate;
use crate::error::Result;
use crate::proto::agent::{
    CreateContainerRequest, CreateContainerResponse, Empty, PauseContainerRequest, RemoveContainerRequest, ResumeContainerRequest,
    StartContainerRequest, StatsContainerRequest, StatsContainerResponse, UpdateContainerRequest,
};
use crate::sandbox::{Agent, Launch};

const DEFAULT_REMOVE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn create(a: &Agent, r: CreateContainerRequest) -> Result<CreateContainerResponse> {
    validate::id(&r.container_id, "container_id")?;
    validate::string(&r.rootfs_path, "rootfs_path")?;
    validate::storages(&r.storages)?;
    let mut resp = CreateContainerResponse::new();
    let extra_outputs = validate::extra_fds(&r.extra_fds)?;
    let launch = Launch { start: r.start, extra_outputs: &extra_outputs };
    resp.pid = a.create_container(&r.container_id, &r.oci_spec_json, &r.rootfs_path, &r.storages, launch)?;
    Ok(resp)
}

pub fn start(a: &Agent, r: StartContainerRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    a.start_container(&r.container_id)?;
    Ok(Empty::new())
}

pub fn remove(a: &Agent, r: RemoveContainerRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    let timeout = match r.timeout {
        0 => DEFAULT_REMOVE_TIMEOUT,
        s => Duration::from_secs(u64::from(s.min(3600))),
    };
    a.remove_container(&r.container_id, timeout)?;
    Ok(Empty::new())
}

pub fn pause(a: &Agent, r: PauseContainerRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    a.pause_container(&r.container_id)?;
    Ok(Empty::new())
}

pub fn resume(a: &Agent, r: ResumeContainerRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    a.resume_container(&r.container_id)?;
    Ok(Empty::new())
}

pub fn update(a: &Agent, r: UpdateContainerRequest) -> Result<Empty> {
    validate::id(&r.container_id, "container_id")?;
    a.update_container(&r.container_id, &r.resources_json)?;
    Ok(Empty::new())
}

pub fn stats(a: &Agent, r: StatsContainerRequest) -> Result<StatsContainerResponse> {
    validate::id(&r.container_id, "container_id")?;
    let mut resp = StatsContainerResponse::new();
    resp.cgroup = protobuf::SingularPtrField::some(a.stats_container(&r.container_id)?);
    Ok(resp)
}
