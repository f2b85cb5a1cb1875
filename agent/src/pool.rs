//! Reusable threads for request handlers. Creating a thread per request is
//! costly under emulation; long-polls (WaitProcess, ReadStdout) keep a thread
//! busy for a long time, so the pool grows whenever no thread is waiting and
//! lets threads go after a minute without work.
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

const IDLE_EXIT: Duration = Duration::from_secs(60);
const STACK_SIZE: usize = 256 * 1024;

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads inside wait(): each queued job needs one of them, or a new thread.
    waiting: usize,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Clone, Default)]
pub struct Pool {
    inner: Arc<Inner>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Pool {
    pub fn submit(&self, job: Job) -> io::Result<()> {
        let mut st = lock(&self.inner.state);
        st.jobs.push_back(job);
        if st.waiting >= st.jobs.len() {
            drop(st);
            self.inner.wake.notify_one();
            return Ok(());
        }
        drop(st);
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new().stack_size(STACK_SIZE).spawn(move || worker(inner));
        if let Err(e) = spawned {
            // Take the job back: nobody will run it.
            lock(&self.inner.state).jobs.pop_back();
            return Err(e);
        }
        Ok(())
    }
}

fn worker(inner: Arc<Inner>) {
    loop {
        let job = {
            let mut st = lock(&inner.state);
            loop {
                if let Some(job) = st.jobs.pop_front() {
                    break job;
                }
                st.waiting += 1;
                let (g, timeout) = match inner.wake.wait_timeout(st, IDLE_EXIT) {
                    Ok(r) => r,
                    Err(p) => p.into_inner(),
                };
                st = g;
                st.waiting -= 1;
                if timeout.timed_out() && st.jobs.is_empty() {
                    return;
                }
            }
        };
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn blocked_jobs_never_starve_later_ones() {
        let pool = Pool::default();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        // Several jobs that block until released (like long-polls)...
        for _ in 0..4 {
            let rx = release_rx.clone();
            pool.submit(Box::new(move || {
                let _ = rx.lock().unwrap().recv();
            }))
            .unwrap();
        }
        // ...must not keep a later job from running.
        let (done_tx, done_rx) = mpsc::channel();
        pool.submit(Box::new(move || done_tx.send(()).unwrap())).unwrap();
        done_rx.recv_timeout(Duration::from_secs(5)).expect("later job ran");
        for _ in 0..4 {
            release_tx.send(()).unwrap();
        }
    }

    #[test]
    fn threads_are_reused() {
        let pool = Pool::default();
        let (tx, rx) = mpsc::channel();
        for _ in 0..20 {
            let tx = tx.clone();
            pool.submit(Box::new(move || tx.send(std::thread::current().id()).unwrap())).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let ids: std::collections::HashSet<_> = (0..20).map(|_| rx.recv().unwrap()).collect();
        assert!(ids.len() < 20, "every job got its own thread");
    }
}
