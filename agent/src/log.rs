//! Minimal logging to the console (stderr). Quiet unless `hako.debug=1` is on
//! the kernel command line: every byte on a serial console costs boot time.
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Seconds since boot (CLOCK_MONOTONIC), for timing lines.
pub fn uptime() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0)
}

fn emit(level: &str, msg: &str) {
    let up = uptime();
    let mut err = std::io::stderr().lock();
    // A failed console write cannot be reported anywhere else.
    let _ = writeln!(err, "[{up:12.6}] hako-agent: {level}: {msg}");
}

pub fn error(msg: &str) {
    emit("error", msg);
}

pub fn warn(msg: &str) {
    emit("warn", msg);
}

/// Whether debug lines are on: check before formatting one on a hot path.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn debug(msg: &str) {
    if DEBUG.load(Ordering::Relaxed) {
        emit("debug", msg);
    }
}
