//! A value that becomes available once, and waiters for it. The agent's port
//! is served before the guest is set up (Check needs nothing), so the host's
//! first round trips overlap the rest of the set-up; a request that needs
//! the agent waits for it here.
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{AgentError, Result};

/// Longer than any set-up takes, even under emulation on a busy host.
pub const SETUP_WAIT: Duration = Duration::from_secs(30);

pub struct Ready<T: Clone> {
    value: Mutex<Option<T>>,
    set: Condvar,
}

impl<T: Clone> Default for Ready<T> {
    fn default() -> Self {
        Ready { value: Mutex::new(None), set: Condvar::new() }
    }
}

impl<T: Clone> Ready<T> {
    pub fn with(value: T) -> Ready<T> {
        Ready { value: Mutex::new(Some(value)), set: Condvar::new() }
    }

    pub fn set(&self, value: T) {
        *self.slot() = Some(value);
        self.set.notify_all();
    }

    /// The value if it is there now.
    pub fn now(&self) -> Option<T> {
        self.slot().clone()
    }

    /// The value, waiting up to `limit` for it.
    pub fn wait(&self, limit: Duration) -> Result<T> {
        let deadline = Instant::now() + limit;
        let mut slot = self.slot();
        loop {
            if let Some(v) = slot.as_ref() {
                return Ok(v.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AgentError::FailedPrecondition("the guest is still being set up".into()));
            }
            slot = match self.set.wait_timeout(slot, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<T>> {
        match self.value.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_waiter_gets_the_value_set_later() {
        let ready = Arc::new(Ready::<u32>::default());
        assert_eq!(ready.now(), None);
        let r = ready.clone();
        let waiter = std::thread::spawn(move || r.wait(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        ready.set(7);
        assert_eq!(waiter.join().expect("the waiter does not panic").expect("set in time"), 7);
        assert_eq!(ready.now(), Some(7));
    }

    #[test]
    fn a_value_never_set_fails_after_the_limit() {
        let ready = Ready::<u32>::default();
        let err = ready.wait(Duration::from_millis(20)).expect_err("nothing was set");
        assert!(err.to_string().contains("still being set up"), "{err}");
    }
}
