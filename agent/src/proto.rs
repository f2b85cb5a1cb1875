//! Messages generated from proto/ttrpc.proto and proto/agent.proto by build.rs.
#![allow(warnings, clippy::all)]

pub mod ttrpc {
    include!(concat!(env!("OUT_DIR"), "/ttrpc.rs"));
}

pub mod agent {
    include!(concat!(env!("OUT_DIR"), "/agent.rs"));
}
