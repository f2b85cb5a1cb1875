//! hako-host-helper: what the host side of Hako needs from Linux and
//! Node.js cannot do.
//!   fs ROOT          file operations confined beneath ROOT (fsops.rs): a
//!                    sandbox's staging tree is readable by its guest, so no
//!                    lookup there may follow a link or leave it
//!   exec [OPTIONS] -- PROGRAM ARGS…
//!                    starts QEMU or virtiofsd confined (jail.rs)
//!   plug --qmp SOCKET --netdev ID --tap NETNS:IFNAME --queues N
//!                    gives a running QEMU a tap's queues as a netdev (plug.rs)
//!   forward --netns PATH --to SOCKET
//!                    relays TCP to 127.0.0.1 in a pod's network namespace
//!                    to the runtime, for kubectl port-forward (forward.rs)
//! Errors go to stderr as one line; the exit status is 0 or 1 (fs), and
//! 125 when exec could not start the program.
mod beneath;
mod filter;
mod forward;
mod fsops;
mod jail;
mod mounts;
mod plug;
mod remove;
mod sys;

use std::io::Read;

/// Largest batch read from stdin.
const MAX_INPUT: u64 = 1 << 20;

fn fail(message: &str, status: i32) -> ! {
    eprintln!("hako-host-helper: {message}");
    std::process::exit(status)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fs") if args.len() == 2 => {
            let mut input = String::new();
            if let Err(e) = std::io::stdin().take(MAX_INPUT).read_to_string(&mut input) {
                fail(&format!("read the batch: {e}"), 1);
            }
            if let Err(e) = fsops::run(&args[1], &input) {
                fail(&e.to_string(), 1);
            }
        }
        Some("exec") => {
            let plan = jail::parse(&args[1..]).unwrap_or_else(|e| fail(&e.to_string(), 125));
            match jail::run(&plan) {
                Ok(never) => match never {},
                Err(e) => fail(&e.to_string(), 125),
            }
        }
        Some("plug") => {
            let plan = plug::parse(&args[1..]).unwrap_or_else(|e| fail(&e.to_string(), 2));
            if let Err(e) = plug::run(&plan) {
                fail(&e.to_string(), 1);
            }
        }
        Some("forward") => {
            let plan = forward::parse(&args[1..]).unwrap_or_else(|e| fail(&e.to_string(), 2));
            match forward::run(&plan) {
                Ok(never) => match never {},
                Err(e) => fail(&e.to_string(), 1),
            }
        }
        _ => fail(
            "usage: hako-host-helper fs ROOT < BATCH | exec [OPTIONS] -- PROGRAM [ARGS…] | plug OPTIONS | forward OPTIONS",
            2,
        ),
    }
}
