//! The RPC layer: decode the request, validate it, call one Agent operation,
//! encode the reply. One file per group of RPCs; no logic lives here.
mod container;
mod health;
mod process;
mod sandbox;
mod stream;
pub mod validate;

use std::sync::Arc;

use protobuf::Message;

use crate::error::{AgentError, Result};
use crate::ready::{Ready, SETUP_WAIT};
use crate::sandbox::Agent;
use crate::ttrpc::Handler;

pub const AGENT_SERVICE: &str = "hako.agent.v1.AgentService";
pub const HEALTH_SERVICE: &str = "hako.agent.v1.Health";

pub struct Dispatcher {
    ready: Arc<Ready<Arc<Agent>>>,
}

impl Dispatcher {
    pub fn new(ready: Arc<Ready<Arc<Agent>>>) -> Dispatcher {
        Dispatcher { ready }
    }
}

/// Decodes `payload` as `Req`, runs `f` and encodes its reply.
fn call<Req: Message, Resp: Message>(payload: &[u8], f: impl FnOnce(Req) -> Result<Resp>) -> Result<Vec<u8>> {
    let req = Req::parse_from_bytes(payload)
        .map_err(|e| AgentError::InvalidArgument(format!("malformed request message: {e}")))?;
    let resp = f(req)?;
    resp.write_to_bytes().map_err(|e| AgentError::Internal(format!("encode reply: {e}")))
}

impl Handler for Dispatcher {
    fn handle(&self, service: &str, method: &str, payload: &[u8]) -> Result<Vec<u8>> {
        if crate::log::debug_enabled() {
            crate::log::debug(&format!("request {method}"));
        }
        if service == HEALTH_SERVICE {
            return match method {
                "Check" => call(payload, health::check),
                "Version" => call(payload, health::version),
                _ => Err(AgentError::Unimplemented(format!("method {method}"))),
            };
        }
        if service != AGENT_SERVICE {
            return Err(AgentError::Unimplemented(format!("service {service}")));
        }
        let agent = self.ready.wait(SETUP_WAIT)?;
        let a = &*agent;
        match method {
            "CreateSandbox" => call(payload, |r| sandbox::create(a, r)),
            "DestroySandbox" => call(payload, |r| sandbox::destroy(a, r)),
            "UpdateNetwork" => call(payload, |r| sandbox::update_network(a, r)),
            "CreateContainer" => call(payload, |r| container::create(a, r)),
            "StartContainer" => call(payload, |r| container::start(a, r)),
            "RemoveContainer" => call(payload, |r| container::remove(a, r)),
            "ExecProcess" => call(payload, |r| process::exec(a, r)),
            "SignalProcess" => call(payload, |r| process::signal(a, r)),
            "WaitProcess" => call(payload, |r| process::wait(a, r)),
            "WriteStdin" => call(payload, |r| stream::write_stdin(a, r)),
            "ReadStdout" => call(payload, |r| stream::read_stdout(a, r)),
            "ReadStderr" => call(payload, |r| stream::read_stderr(a, r)),
            "CloseStdin" => call(payload, |r| stream::close_stdin(a, r)),
            "CloseOutput" => call(payload, |r| stream::close_output(a, r)),
            "TtyWinResize" => call(payload, |r| stream::resize(a, r)),
            "PauseContainer" => call(payload, |r| container::pause(a, r)),
            "ResumeContainer" => call(payload, |r| container::resume(a, r)),
            "UpdateContainer" => call(payload, |r| container::update(a, r)),
            "StatsContainer" => call(payload, |r| container::stats(a, r)),
            "ListProcesses" => call(payload, |r| process::list(a, r)),
            "DeleteProcess" => call(payload, |r| process::delete(a, r)),
            "GetOOMEvent" => call(payload, |r| sandbox::oom_event(a, r)),
            "GetMetrics" => call(payload, |r| health::metrics(a, r)),
            "OnlineCpuMem" => call(payload, sandbox::online_cpu_mem),
            "PortConnect" => call(payload, |r| stream::port_connect(a, r)),
            "PortClose" => call(payload, |r| stream::port_close(a, r)),
            _ => Err(AgentError::Unimplemented(format!("method {method}"))),
        }
    }

    fn after_reply(&self, service: &str, method: &str) {
        // Called after every reply, ReadStdout's among them: look at the
        // agent only after a DestroySandbox.
        if service != AGENT_SERVICE || method != "DestroySandbox" {
            return;
        }
        if self.ready.now().is_some_and(|a| a.shutting_down()) {
            crate::init::power_off();
        }
    }
}
