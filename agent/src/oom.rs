//! OOM events: an inotify watch on each container's memory.events; when
//! its oom_kill count grows, the container's id is queued for GetOOMEvent.
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::cgroup;
use crate::log;

/// Events kept for the host at most (older ones are dropped).
const MAX_QUEUED: usize = 256;

struct Watched {
    container_id: String,
    kills: u64,
}

#[derive(Default)]
struct State {
    watches: HashMap<WatchDescriptor, Watched>,
    queue: VecDeque<String>,
}

pub struct OomWatcher {
    inotify: Inotify,
    state: Mutex<State>,
    ready: Condvar,
}

impl OomWatcher {
    pub fn start() -> nix::Result<Arc<OomWatcher>> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC)?;
        let w = Arc::new(OomWatcher { inotify, state: Mutex::new(State::default()), ready: Condvar::new() });
        let reader = w.clone();
        std::thread::Builder::new()
            .name("oom".into())
            .stack_size(128 * 1024)
            .spawn(move || reader.run())
            .map_err(|_| nix::Error::EAGAIN)?;
        Ok(w)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn run(&self) {
        loop {
            let events = match self.inotify.read_events() {
                Ok(e) => e,
                Err(nix::Error::EINTR) => continue,
                Err(e) => {
                    log::warn(&format!("oom watcher stopped: {e}"));
                    return;
                }
            };
            let mut st = self.lock();
            let mut fired = vec![];
            for ev in events {
                if let Some(w) = st.watches.get_mut(&ev.wd) {
                    let kills = cgroup::oom_kills(&w.container_id);
                    if kills > w.kills {
                        w.kills = kills;
                        fired.push(w.container_id.clone());
                    }
                }
            }
            for id in fired {
                if st.queue.len() >= MAX_QUEUED {
                    st.queue.pop_front();
                }
                st.queue.push_back(id);
            }
            drop(st);
            self.ready.notify_all();
        }
    }

    pub fn watch(&self, container_id: &str) {
        let path = cgroup::dir(container_id).join("memory.events");
        if !Path::new(&path).exists() {
            return;
        }
        match self.inotify.add_watch(&path, AddWatchFlags::IN_MODIFY) {
            Ok(wd) => {
                let kills = cgroup::oom_kills(container_id);
                self.lock().watches.insert(wd, Watched { container_id: container_id.to_string(), kills });
            }
            Err(e) => log::warn(&format!("cannot watch {}: {e}", path.display())),
        }
    }

    pub fn unwatch(&self, container_id: &str) {
        let mut st = self.lock();
        let wds: Vec<WatchDescriptor> =
            st.watches.iter().filter(|(_, w)| w.container_id == container_id).map(|(wd, _)| *wd).collect();
        for wd in wds {
            st.watches.remove(&wd);
            let _ = self.inotify.rm_watch(wd);
        }
    }

    /// Blocks until a container is killed for memory.
    pub fn next(&self) -> String {
        let mut st = self.lock();
        loop {
            if let Some(id) = st.queue.pop_front() {
                return id;
            }
            st = match self.ready.wait(st) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }
}
