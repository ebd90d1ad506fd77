//! Disks made ahead of need: preparing one (writing the size's
//! [`Template`], the loop device, the mount; ≈ 1–3 ms, and ≈ 18 ms more
//! the first time of a size, whose template `mkfs.ext4` formats) need not
//! be part of a cold start. A thread at
//! nice 19 keeps [`PER_SIZE`] ready for each `/tmp` size launches asked
//! for lately — Lambda's default, 512 MB, from the start — and refills
//! once cold starts have paused ([`REFILL_QUIET`]), or at once when fewer
//! than half are left (a burst of cold starts would drain it before a
//! pause). A launch takes one, or makes one itself when none of its size
//! is ready (the first cold start of a new size). Sizes not asked for in
//! [`KEEP_UNUSED`] are given up, and at most [`MAX_SIZES`] are kept.
//!
//! An environment's disk comes back through [`TmpDisks::release`] once
//! the environment has ended, and is dropped on a thread of its own (the
//! unmount and the loop device's teardown block for milliseconds).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{find_mkfs, make_template, prepare, sweep, Disk, DiskError, Template};
use crate::namespace::stock::{background_priority, REFILL_QUIET};

/// Disks kept ready per size.
pub const PER_SIZE: usize = 4;
/// Lambda's default `/tmp` size, MB: stocked from the start.
pub const DEFAULT_MB: u32 = 512;
/// Sizes stocked at most; the least recently asked for goes first.
pub const MAX_SIZES: usize = 8;
/// A size not asked for this long is no longer stocked.
pub const KEEP_UNUSED: Duration = Duration::from_secs(600);

/// The server's `/tmp` disks: the ready ones, the refill and the reaper.
pub struct TmpDisks {
    shared: Arc<Shared>,
    refill: Mutex<Option<JoinHandle<()>>>,
    reaper: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    dir: PathBuf,
    mkfs: PathBuf,
    direct_io: bool,
    state: Mutex<State>,
    wake: Condvar,
    made: AtomicU64,
    reaper: Mutex<Option<mpsc::Sender<Disk>>>,
    /// Each stocked size's template, formatted on first need (under the
    /// size's own lock, so one size's `mkfs` does not hold up another's
    /// disks).
    templates: Mutex<HashMap<u32, Arc<TemplateSlot>>>,
}

/// One size's template, once formatted.
type TemplateSlot = Mutex<Option<Arc<Template>>>;

struct State {
    sizes: HashMap<u32, Stocked>,
    last_take: Option<Instant>,
    stopped: bool,
}

struct Stocked {
    ready: VecDeque<Disk>,
    asked: Instant,
}

impl std::fmt::Debug for TmpDisks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TmpDisks")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TmpDisks {
    /// Starts the disks of a server whose images go in `dir` (its own:
    /// image files already there are a dead server's, and are removed).
    /// Makes the first disk now, so that a host where it cannot be done
    /// (no `mkfs.ext4`, no loop devices, no ext4) is known at start.
    pub fn start(dir: &Path) -> Result<Self, DiskError> {
        let mkfs = find_mkfs().ok_or(DiskError::NoMkfs)?;
        std::fs::create_dir_all(dir).map_err(|source| DiskError::Image {
            path: dir.to_path_buf(),
            source,
        })?;
        let swept = sweep(dir);
        if swept > 0 {
            tracing::info!(
                removed = swept,
                dir = %dir.display(),
                "removed /tmp images a previous server left behind"
            );
        }
        let pid = std::process::id();
        let template = Arc::new(make_template(
            dir,
            &format!("{pid}-t{DEFAULT_MB}"),
            &mkfs,
            DEFAULT_MB,
        )?);
        let first = prepare(dir, &format!("{pid}-0"), &template, DEFAULT_MB)?;
        let (reaper, dropped) = mpsc::channel::<Disk>();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            mkfs,
            direct_io: first.direct_io(),
            state: Mutex::new(State {
                sizes: HashMap::from([(
                    DEFAULT_MB,
                    Stocked {
                        ready: VecDeque::from([first]),
                        asked: Instant::now(),
                    },
                )]),
                last_take: None,
                stopped: false,
            }),
            wake: Condvar::new(),
            made: AtomicU64::new(1),
            reaper: Mutex::new(Some(reaper)),
            templates: Mutex::new(HashMap::from([(
                DEFAULT_MB,
                Arc::new(Mutex::new(Some(template))),
            )])),
        });
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(DiskError::Thread)
        };
        // The reaper first: it ends by itself when `shared` (the sender's
        // only owner) is dropped, should the refill not start.
        let reaper = spawn(
            "ignis-disk-reaper",
            Box::new(move || {
                background_priority();
                for disk in dropped {
                    drop(disk);
                }
            }),
        )?;
        let s = shared.clone();
        let refill = spawn("ignis-tmp-disks", Box::new(move || refill(&s)))?;
        Ok(Self {
            shared,
            refill: Mutex::new(Some(refill)),
            reaper: Mutex::new(Some(reaper)),
        })
    }

    /// What `ignis serve` says about `/tmp`.
    pub fn describe(&self) -> String {
        format!(
            "/tmp on disk (ext4 on loop devices, {}, images in {})",
            if self.shared.direct_io {
                "direct I/O"
            } else {
                "cached I/O: the backing file system cannot do direct I/O"
            },
            self.shared.dir.display()
        )
    }

    /// A disk of `mb` MB: a ready one, or made now.
    pub fn take(&self, mb: u32) -> Result<Disk, DiskError> {
        let s = &self.shared;
        let ready = {
            let mut state = lock(&s.state);
            let now = Instant::now();
            state.last_take = Some(now);
            let stocked = state.sizes.entry(mb).or_insert_with(|| Stocked {
                ready: VecDeque::new(),
                asked: now,
            });
            stocked.asked = now;
            let ready = stocked.ready.pop_front();
            s.forget_beyond(&mut state, MAX_SIZES);
            ready
        };
        s.wake.notify_all();
        match ready {
            Some(disk) => Ok(disk),
            None => {
                tracing::debug!(
                    mb,
                    "no /tmp disk of this size ready: making one for this launch"
                );
                s.prepare(mb)
            }
        }
    }

    /// Gives back the disk of an environment that has ended: it is
    /// unmounted and its loop device detached on the reaper thread.
    pub fn release(&self, disk: Disk) {
        self.shared.release(disk);
    }

    /// Disks of `mb` MB ready now.
    pub fn ready(&self, mb: u32) -> usize {
        lock(&self.shared.state)
            .sizes
            .get(&mb)
            .map_or(0, |s| s.ready.len())
    }

    /// Stops the refill, drops the ready disks and waits until every disk
    /// given back has been dropped. Idempotent; later releases drop their
    /// disk at once.
    pub fn shutdown(&self) {
        let s = &self.shared;
        let left: Vec<Disk> = {
            let mut state = lock(&s.state);
            state.stopped = true;
            state
                .sizes
                .drain()
                .flat_map(|(_, stocked)| stocked.ready)
                .collect()
        };
        s.wake.notify_all();
        for disk in left {
            s.release(disk);
        }
        if let Some(refill) = lock(&self.refill).take() {
            let _ = refill.join();
        }
        // The refill may have released one more; then the reaper ends.
        lock(&s.reaper).take();
        if let Some(reaper) = lock(&self.reaper).take() {
            let _ = reaper.join();
        }
    }
}

impl Drop for TmpDisks {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn prepare(&self, mb: u32) -> Result<Disk, DiskError> {
        let template = self.template(mb)?;
        let name = format!(
            "{}-{}",
            std::process::id(),
            self.made.fetch_add(1, Ordering::Relaxed)
        );
        prepare(&self.dir, &name, &template, mb)
    }

    /// The template of `mb` MB disks, formatted now if there is none.
    fn template(&self, mb: u32) -> Result<Arc<Template>, DiskError> {
        let slot = lock(&self.templates).entry(mb).or_default().clone();
        let mut slot = lock(&slot);
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let name = format!("{}-t{mb}", std::process::id());
        let made = Arc::new(make_template(&self.dir, &name, &self.mkfs, mb)?);
        tracing::debug!(
            mb,
            written = made.written(),
            "formatted the template of a /tmp disk size"
        );
        *slot = Some(made.clone());
        Ok(made)
    }

    fn release(&self, disk: Disk) {
        // Without a reaper (after shutdown) the disk is dropped here.
        let unsent = match lock(&self.reaper).as_ref() {
            Some(tx) => tx.send(disk).err().map(|e| e.0),
            None => Some(disk),
        };
        drop(unsent);
    }

    /// Stops stocking sizes beyond the `keep` most recently asked for, and
    /// those not asked for in [`KEEP_UNUSED`] (but the default size).
    fn forget_beyond(&self, state: &mut State, keep: usize) {
        let mut by_age: Vec<(Instant, u32)> =
            state.sizes.iter().map(|(mb, s)| (s.asked, *mb)).collect();
        by_age.sort_by(|a, b| b.cmp(a));
        let now = Instant::now();
        for (i, (asked, mb)) in by_age.into_iter().enumerate() {
            let stale = now.duration_since(asked) > KEEP_UNUSED && mb != DEFAULT_MB;
            if i >= keep || stale {
                if let Some(stocked) = state.sizes.remove(&mb) {
                    stocked.ready.into_iter().for_each(|d| self.release(d));
                }
                lock(&self.templates).remove(&mb);
            }
        }
    }

    /// For the refill thread: the size to make a disk of next, once one
    /// is needed (see the module's rules); `None` once stopped.
    fn wait_for_need(&self) -> Option<u32> {
        let mut state = lock(&self.state);
        loop {
            if state.stopped {
                return None;
            }
            self.forget_beyond(&mut state, MAX_SIZES);
            let need = state
                .sizes
                .iter()
                .filter(|(_, s)| s.ready.len() < PER_SIZE)
                .min_by_key(|(_, s)| s.ready.len())
                .map(|(mb, s)| (*mb, s.ready.len()));
            let wait = match need {
                None => KEEP_UNUSED,
                Some((mb, ready)) => {
                    let quiet = state
                        .last_take
                        .map_or(Duration::ZERO, |t| REFILL_QUIET.saturating_sub(t.elapsed()));
                    if ready * 2 < PER_SIZE || quiet.is_zero() {
                        return Some(mb);
                    }
                    quiet
                }
            };
            state = self
                .wake
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits `how_long`, or less if stopped meanwhile.
    fn pause(&self, how_long: Duration) {
        let state = lock(&self.state);
        if !state.stopped {
            drop(self.wake.wait_timeout(state, how_long));
        }
    }

    /// Adds a disk the refill made, unless its size is no longer stocked.
    fn put(&self, mb: u32, disk: Disk) {
        let mut state = lock(&self.state);
        let stopped = state.stopped;
        match state.sizes.get_mut(&mb) {
            Some(stocked) if !stopped => stocked.ready.push_back(disk),
            _ => {
                drop(state);
                self.release(disk);
            }
        }
    }
}

fn refill(s: &Shared) {
    background_priority();
    let mut failed = false;
    while let Some(mb) = s.wait_for_need() {
        match s.prepare(mb) {
            Ok(disk) => {
                failed = false;
                s.put(mb, disk);
            }
            Err(e) => {
                if !failed {
                    tracing::warn!(error = %e, mb, "failed to prepare a /tmp disk");
                }
                failed = true;
                s.pause(Duration::from_secs(1));
            }
        }
    }
}
