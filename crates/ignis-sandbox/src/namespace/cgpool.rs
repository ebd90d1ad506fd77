//! Environment cgroups made ahead of need: creating a memory cgroup is the
//! costliest part of an environment's cgroups (traced: the three `mkdir`s
//! and `pids.max` ≈ 0.2–0.3 ms of a cold start), and none of it depends on
//! the function. A background thread at nice 19 keeps a few blank ones
//! (`ignis-pool-<pid>-<n>`, `pids.max` written); a launch takes one and
//! writes only its size's limits (`cgroup::limit`), or makes its own when
//! the pool is empty.
//!
//! Blank cgroups are empty directories: another server starting on the
//! same host removes those left over (`cgroup::remove_stale`), but not
//! those of a server still running, named by its pid. Should one be gone
//! all the same, a take whose limits cannot be written drops that one and
//! tries the next.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::cgroup::{self, CgroupFs, EnvCgroups, Layout, POOL_PREFIX};
use super::stock::{background_priority, Stock};

/// Blank cgroups kept by the pool, and its refill thread.
pub struct CgroupPool {
    shared: Arc<Shared>,
    refill: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Shared {
    fs: Arc<dyn CgroupFs>,
    layout: Layout,
    stock: Stock<EnvCgroups>,
    made: AtomicU64,
}

impl std::fmt::Debug for CgroupPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CgroupPool")
            .field("target", &self.shared.stock.target())
            .finish()
    }
}

/// The name prefix of this process's blank cgroups.
pub fn pool_prefix() -> String {
    format!("{POOL_PREFIX}{}-", std::process::id())
}

impl CgroupPool {
    /// Starts a pool of `target` blank cgroups in `layout`.
    pub fn start(fs: Arc<dyn CgroupFs>, layout: Layout, target: usize) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            fs,
            layout,
            stock: Stock::new(target),
            made: AtomicU64::new(0),
        });
        let s = shared.clone();
        let refill = std::thread::Builder::new()
            .name("ignis-cgroup-pool".into())
            .spawn(move || refill(&s))?;
        Ok(Self {
            shared,
            refill: Mutex::new(Some(refill)),
        })
    }

    /// The cgroups of environment `env_id`, limited for `memory_mb`: a
    /// blank one from the pool, or made now (named after the environment)
    /// when the pool is empty.
    pub fn take(&self, env_id: &str, memory_mb: u32) -> io::Result<EnvCgroups> {
        let s = &self.shared;
        while let Some(cg) = s.stock.take() {
            match cgroup::limit(s.fs.as_ref(), &s.layout, &cg, memory_mb) {
                Ok(()) => return Ok(cg),
                Err(e) => {
                    cgroup::remove(s.fs.as_ref(), &cg);
                    if e.kind() != io::ErrorKind::NotFound {
                        return Err(e);
                    }
                }
            }
        }
        cgroup::create(s.fs.as_ref(), &s.layout, env_id, memory_mb)
    }

    /// Stops the refill and removes the blank cgroups. Idempotent.
    pub fn shutdown(&self) {
        let s = &self.shared;
        let left = s.stock.stop();
        if let Some(h) = self.refill.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
        for cg in left.into_iter().chain(s.stock.stop()) {
            cgroup::remove(s.fs.as_ref(), &cg);
        }
    }
}

impl Drop for CgroupPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn refill(s: &Shared) {
    background_priority();
    let prefix = pool_prefix();
    let mut failed = false;
    while s.stock.wait_for_need() {
        let name = format!("{prefix}{}", s.made.fetch_add(1, Ordering::Relaxed));
        match cgroup::make(s.fs.as_ref(), &s.layout, &name) {
            Ok(cg) => {
                failed = false;
                if s.stock.stopped() {
                    cgroup::remove(s.fs.as_ref(), &cg);
                    return;
                }
                s.stock.put(cg);
            }
            Err(e) => {
                if !failed {
                    tracing::warn!(error = %e, "failed to prepare an environment cgroup");
                }
                failed = true;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::cgroup::tests::FakeFs;
    use std::time::{Duration, Instant};

    fn layout() -> Layout {
        Layout::V2("/cg/ignis.service".into())
    }

    fn wait_for(fs: &FakeFs, what: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ops = fs.ops.lock().unwrap().clone();
            if what(&ops) {
                return;
            }
            assert!(Instant::now() < deadline, "not seen in {ops:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_take_limits_a_blank_cgroup() {
        let fs = Arc::new(FakeFs::default());
        let pool = CgroupPool::start(fs.clone(), layout(), 1).unwrap();
        wait_for(&fs, |ops| {
            ops.iter()
                .any(|o| o.contains("pool-") && o.ends_with("pids.max = 1024"))
        });
        let cg = pool.take("e2", 1769).unwrap();
        let dir = cg.dirs[0].to_string_lossy().into_owned();
        assert!(
            dir.starts_with(&format!("/cg/ignis.service/{}", pool_prefix())),
            "{dir}"
        );
        let ops = fs.ops.lock().unwrap().clone();
        assert!(
            ops.contains(&format!("{dir}/cpu.max = max 100000")),
            "{ops:?}"
        );
        assert!(
            ops.contains(&format!("{dir}/memory.max = 1854930944")),
            "{ops:?}"
        );
    }

    #[test]
    fn an_empty_pool_makes_the_environment_its_own() {
        let fs = Arc::new(FakeFs::default());
        let pool = CgroupPool::start(fs.clone(), layout(), 0).unwrap();
        let cg = pool.take("e1", 128).unwrap();
        assert!(cg.dirs[0].ends_with("ignis-e1"));
    }

    #[test]
    fn shutdown_removes_the_blank_cgroups() {
        let fs = Arc::new(FakeFs::default());
        let pool = CgroupPool::start(fs.clone(), layout(), 2).unwrap();
        wait_for(&fs, |ops| {
            ops.iter()
                .filter(|o| o.ends_with("pids.max = 1024"))
                .count()
                == 2
        });
        drop(pool);
        let ops = fs.ops.lock().unwrap();
        assert_eq!(
            ops.iter().filter(|o| o.starts_with("rmdir")).count(),
            2,
            "{ops:?}"
        );
    }
}
