//! Environment cgroups: which hierarchy (v1 or v2) holds the memory, CPU
//! and pids controllers, where Ignis's own cgroups are (environments are
//! created below them, never at the root), and the files an environment's
//! limits are written to. File access goes through [`CgroupFs`] so the plan
//! is tested with a recording fake.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Lambda's ratio: 1,769 MB of memory buys one vCPU.
pub const MB_PER_VCPU: u64 = 1769;
/// The CFS period quotas are expressed in, µs.
pub const CPU_PERIOD_US: u64 = 100_000;
/// Processes and threads an environment may have.
pub const PIDS_MAX: u32 = 1024;
/// Directory name prefix of environment cgroups.
pub const PREFIX: &str = "ignis-";

/// The file operations the cgroup plan needs.
pub trait CgroupFs: Send + Sync {
    /// Creates a cgroup directory.
    fn create(&self, dir: &Path) -> io::Result<()>;
    /// Writes a control file.
    fn write(&self, file: &Path, value: &str) -> io::Result<()>;
    /// Whether a control file exists (optional controls such as memsw).
    fn exists(&self, file: &Path) -> bool;
    /// Removes a cgroup directory (fails while processes remain).
    fn remove(&self, dir: &Path) -> io::Result<()>;
}

/// The real cgroup file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl CgroupFs for RealFs {
    fn create(&self, dir: &Path) -> io::Result<()> {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            r => r,
        }
    }
    fn write(&self, file: &Path, value: &str) -> io::Result<()> {
        std::fs::write(file, value)
    }
    fn exists(&self, file: &Path) -> bool {
        file.exists()
    }
    fn remove(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(dir)
    }
}

/// Where environments' cgroups go on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Controllers on v1 hierarchies: Ignis's own memory, cpu and pids cgroups.
    V1 {
        /// Ignis's memory cgroup directory.
        memory: PathBuf,
        /// Ignis's cpu cgroup directory.
        cpu: PathBuf,
        /// Ignis's pids cgroup directory.
        pids: PathBuf,
    },
    /// The unified hierarchy: Ignis's own cgroup directory.
    V2(PathBuf),
}

impl Layout {
    /// Reads `/proc/self/cgroup` under the `mount` root (`/sys/fs/cgroup`).
    pub fn detect(proc_self_cgroup: &str, mount: &Path) -> Option<Layout> {
        let v1 = |ctrl: &str| {
            proc_self_cgroup.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                if !ctrls.split(',').any(|c| c == ctrl) {
                    return None;
                }
                let rel = path.trim_start_matches('/');
                [ctrls, ctrl]
                    .iter()
                    .map(|m| mount.join(m))
                    .find(|m| m.join("cgroup.procs").exists())
                    .map(|m| m.join(rel))
            })
        };
        if let (Some(memory), Some(cpu), Some(pids)) = (v1("memory"), v1("cpu"), v1("pids")) {
            return Some(Layout::V1 { memory, cpu, pids });
        }
        let path = proc_self_cgroup
            .lines()
            .find_map(|l| l.strip_prefix("0::"))?;
        let controllers = std::fs::read_to_string(mount.join("cgroup.controllers")).ok()?;
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        (has("memory") && has("cpu") && has("pids"))
            .then(|| Layout::V2(mount.join(path.trim_start_matches('/'))))
    }

    /// `cgroup v1` / `cgroup v2`, as `ignis serve` reports it.
    pub fn describe(&self) -> &'static str {
        match self {
            Layout::V1 { .. } => "cgroup v1",
            Layout::V2(_) => "cgroup v2",
        }
    }

    /// The directories Ignis's environments are created in.
    pub fn parents(&self) -> Vec<PathBuf> {
        match self {
            Layout::V1 { memory, cpu, pids } => vec![memory.clone(), cpu.clone(), pids.clone()],
            Layout::V2(dir) => vec![dir.clone()],
        }
    }
}

/// An environment's cgroups, created and limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCgroups {
    /// The directories, one per hierarchy.
    pub dirs: Vec<PathBuf>,
    /// The `cgroup.procs` files the environment's first process joins.
    pub procs: Vec<PathBuf>,
    /// The peak memory file.
    pub peak: PathBuf,
    /// The file with the memory cgroup's `oom_kill` counter
    /// (`memory.oom_control` on v1, `memory.events` on v2).
    pub events: PathBuf,
}

/// How many processes the OOM killer ended in a memory cgroup, from its
/// `memory.oom_control` (v1, kernel 4.13+) or `memory.events` (v2) text.
/// `memory.failcnt` is not used: it also counts limit hits the kernel
/// resolved by reclaiming page cache.
pub fn oom_kills(events: &str) -> Option<u64> {
    events.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == "oom_kill").then(|| value.trim().parse().ok())?
    })
}

/// CPU quota per period for `memory_mb`, as Lambda scales CPU with memory.
pub fn cpu_quota_us(memory_mb: u32) -> u64 {
    (u64::from(memory_mb) * CPU_PERIOD_US / MB_PER_VCPU).max(1000)
}

/// Creates the cgroups of environment `env_id` and writes its limits.
/// On failure whatever was created is removed again.
pub fn create(
    fs: &dyn CgroupFs,
    layout: &Layout,
    env_id: &str,
    memory_mb: u32,
) -> io::Result<EnvCgroups> {
    let cg = make(fs, layout, &format!("{PREFIX}{env_id}"))?;
    match limit(fs, layout, &cg, memory_mb) {
        Ok(()) => Ok(cg),
        Err(e) => {
            remove(fs, &cg);
            Err(e)
        }
    }
}

/// Creates cgroups named `name` (one per hierarchy) with the limits every
/// environment has (`pids.max`); [`limit`] writes the ones that depend on
/// its size. On failure whatever was created is removed again.
pub fn make(fs: &dyn CgroupFs, layout: &Layout, name: &str) -> io::Result<EnvCgroups> {
    let cg = match layout {
        Layout::V1 { memory, cpu, pids } => EnvCgroups {
            dirs: vec![memory.join(name), cpu.join(name), pids.join(name)],
            procs: vec![],
            peak: memory.join(name).join("memory.max_usage_in_bytes"),
            events: memory.join(name).join("memory.oom_control"),
        },
        Layout::V2(parent) => EnvCgroups {
            dirs: vec![parent.join(name)],
            procs: vec![],
            peak: parent.join(name).join("memory.peak"),
            events: parent.join(name).join("memory.events"),
        },
    };
    let procs = cg.dirs.iter().map(|d| d.join("cgroup.procs")).collect();
    let cg = EnvCgroups { procs, ..cg };
    let pids = match layout {
        Layout::V1 { .. } => cg.dirs[2].join("pids.max"),
        Layout::V2(_) => cg.dirs[0].join("pids.max"),
    };
    let result = (|| {
        for d in &cg.dirs {
            fs.create(d)?;
        }
        fs.write(&pids, &PIDS_MAX.to_string())
    })();
    match result {
        Ok(()) => Ok(cg),
        Err(e) => {
            remove(fs, &cg);
            Err(e)
        }
    }
}

/// Writes the limits that follow from `memory_mb`: memory without swap,
/// and, for the init phase, CPU without a quota (the runtime's start-up and
/// the function's init code run at the machine's speed, as Lambda boosts
/// its init phase); [`cpu_share`] gives the writes that put the function's
/// proportional share in place once the init is done.
pub fn limit(
    fs: &dyn CgroupFs,
    layout: &Layout,
    cg: &EnvCgroups,
    memory_mb: u32,
) -> io::Result<()> {
    let bytes = (u64::from(memory_mb) * 1024 * 1024).to_string();
    match layout {
        Layout::V1 { .. } => {
            let (mem, cpu) = (&cg.dirs[0], &cg.dirs[1]);
            let limit = mem.join("memory.limit_in_bytes");
            let memsw = mem.join("memory.memsw.limit_in_bytes");
            if fs.exists(&memsw) {
                // The kernel keeps memsw >= the limit: raising a limit
                // already written (a prepared environment's, see
                // `prewarm`) takes memsw first.
                match fs.write(&limit, &bytes) {
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        fs.write(&memsw, &bytes)?;
                        fs.write(&limit, &bytes)?;
                    }
                    written => {
                        written?;
                        fs.write(&memsw, &bytes)?;
                    }
                }
            } else {
                fs.write(&limit, &bytes)?;
                fs.write(&mem.join("memory.swappiness"), "0")?;
            }
            // A new cgroup's period is the kernel's default, 100 ms
            // (CPU_PERIOD_US), whatever its parent's: writing it again
            // costs a bandwidth update (≈ 0.1–0.5 ms traced) per start.
            fs.write(&cpu.join("cpu.cfs_quota_us"), "-1")
        }
        Layout::V2(_) => {
            let d = &cg.dirs[0];
            fs.write(&d.join("memory.max"), &bytes)?;
            fs.write(&d.join("memory.swap.max"), "0")?;
            fs.write(&d.join("cpu.max"), &format!("max {CPU_PERIOD_US}"))
        }
    }
}

/// The writes that give an environment of `memory_mb` its steady CPU
/// share, in proportion (1,769 MB = one vCPU) with a burst of one quota:
/// (file, value), in order, the burst only where the kernel has it.
pub fn cpu_share(
    fs: &dyn CgroupFs,
    layout: &Layout,
    cg: &EnvCgroups,
    memory_mb: u32,
) -> Vec<(PathBuf, String)> {
    let quota = cpu_quota_us(memory_mb);
    let (limit, burst) = match layout {
        Layout::V1 { .. } => {
            let cpu = &cg.dirs[1];
            (
                (cpu.join("cpu.cfs_quota_us"), quota.to_string()),
                cpu.join("cpu.cfs_burst_us"),
            )
        }
        Layout::V2(_) => {
            let d = &cg.dirs[0];
            (
                (d.join("cpu.max"), format!("{quota} {CPU_PERIOD_US}")),
                d.join("cpu.max.burst"),
            )
        }
    };
    let mut writes = vec![limit];
    if fs.exists(&burst) {
        writes.push((burst, quota.to_string()));
    }
    writes
}

/// Name prefix of the blank cgroups a server keeps ready
/// (`ignis-pool-<pid>-<n>`, see `cgpool`).
pub const POOL_PREFIX: &str = "ignis-pool-";

/// The pid of the server that made blank cgroup `name`, when it is one
/// (`ignis-pool-<pid>-<n>`).
pub fn pool_owner(name: &str) -> Option<libc::pid_t> {
    name.strip_prefix(POOL_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Removes the empty environment cgroups (`ignis-*`) below `parents` that
/// are older than `min_age`: those of environments whose server was killed
/// before it could remove them (their processes died with it). A cgroup
/// that still holds processes cannot be removed and stays; the age spares
/// one another server is just setting up. A blank cgroup of a server's
/// pool stays while that server (its pid in this PID namespace) lives,
/// whatever its age: it is empty until the server hands it to an
/// environment, and on cgroup v1 a launch notices no missing `pids`
/// directory before its init fails to join it. Returns how many went.
pub fn remove_stale(parents: &[PathBuf], min_age: Duration) -> usize {
    let stale = |e: &std::fs::DirEntry| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with(PREFIX)
            && !pool_owner(&name).is_some_and(super::spawn::exists)
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= min_age))
    };
    parents
        .iter()
        .filter_map(|p| std::fs::read_dir(p).ok())
        .flat_map(|dir| dir.flatten())
        .filter(|e| stale(e) && std::fs::remove_dir(e.path()).is_ok())
        .count()
}

/// Removes the environment's cgroups; false if one is still busy.
pub fn remove(fs: &dyn CgroupFs, cg: &EnvCgroups) -> bool {
    cg.dirs.iter().all(|d| match fs.remove(d) {
        Ok(()) => true,
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records every operation; `memsw` says whether swap accounting
    /// exists, `burst` whether the kernel has CFS burst.
    #[derive(Default)]
    pub struct FakeFs {
        pub ops: Mutex<Vec<String>>,
        pub memsw: bool,
        pub burst: bool,
    }

    impl CgroupFs for FakeFs {
        fn create(&self, dir: &Path) -> io::Result<()> {
            self.ops
                .lock()
                .unwrap()
                .push(format!("mkdir {}", dir.display()));
            Ok(())
        }
        fn write(&self, file: &Path, value: &str) -> io::Result<()> {
            self.ops
                .lock()
                .unwrap()
                .push(format!("{} = {value}", file.display()));
            Ok(())
        }
        fn exists(&self, file: &Path) -> bool {
            (self.memsw && file.ends_with("memory.memsw.limit_in_bytes"))
                || (self.burst
                    && (file.ends_with("cpu.cfs_burst_us") || file.ends_with("cpu.max.burst")))
        }
        fn remove(&self, dir: &Path) -> io::Result<()> {
            self.ops
                .lock()
                .unwrap()
                .push(format!("rmdir {}", dir.display()));
            Ok(())
        }
    }

    fn v1() -> Layout {
        Layout::V1 {
            memory: "/cg/memory/api/x".into(),
            cpu: "/cg/cpu".into(),
            pids: "/cg/pids".into(),
        }
    }

    #[test]
    fn cpu_follows_memory_like_lambda() {
        assert_eq!(cpu_quota_us(1769), 100_000);
        assert_eq!(cpu_quota_us(10_240), 578_858); // ≈ 5.8 vCPUs
        assert_eq!(cpu_quota_us(128), 7_235);
        assert_eq!(cpu_quota_us(1), 1000);
    }

    #[test]
    fn v1_plan_limits_memory_swap_cpu_and_pids_below_ignis_own_cgroups() {
        let fs = FakeFs {
            memsw: true,
            ..FakeFs::default()
        };
        let cg = create(&fs, &v1(), "e1", 1769).unwrap();
        assert_eq!(
            *fs.ops.lock().unwrap(),
            [
                "mkdir /cg/memory/api/x/ignis-e1",
                "mkdir /cg/cpu/ignis-e1",
                "mkdir /cg/pids/ignis-e1",
                "/cg/pids/ignis-e1/pids.max = 1024",
                "/cg/memory/api/x/ignis-e1/memory.limit_in_bytes = 1854930944",
                "/cg/memory/api/x/ignis-e1/memory.memsw.limit_in_bytes = 1854930944",
                // The init runs without a quota; `cpu_share` comes after it.
                "/cg/cpu/ignis-e1/cpu.cfs_quota_us = -1",
            ]
        );
        let share = cpu_share(&fs, &v1(), &cg, 1769);
        assert_eq!(
            share,
            [(
                PathBuf::from("/cg/cpu/ignis-e1/cpu.cfs_quota_us"),
                "100000".to_string()
            )]
        );
        assert_eq!(
            cg.peak,
            Path::new("/cg/memory/api/x/ignis-e1/memory.max_usage_in_bytes")
        );
        assert_eq!(cg.procs[1], Path::new("/cg/cpu/ignis-e1/cgroup.procs"));
    }

    #[test]
    fn v1_without_swap_accounting_sets_swappiness_to_zero() {
        let fs = FakeFs::default();
        create(&fs, &v1(), "e1", 128).unwrap();
        let ops = fs.ops.lock().unwrap();
        assert!(ops.contains(&"/cg/memory/api/x/ignis-e1/memory.swappiness = 0".to_string()));
    }

    #[test]
    fn cpu_burst_banks_one_period_of_quota_where_the_kernel_has_it() {
        let fs = FakeFs {
            burst: true,
            ..FakeFs::default()
        };
        let e1 = create(&fs, &v1(), "e1", 128).unwrap();
        let v2 = Layout::V2("/cg/ignis.service".into());
        let e2 = create(&fs, &v2, "e2", 3538).unwrap();
        // The burst after the quota, so that it also starts with it.
        assert_eq!(
            cpu_share(&fs, &v1(), &e1, 128),
            [
                (
                    PathBuf::from("/cg/cpu/ignis-e1/cpu.cfs_quota_us"),
                    "7235".to_string()
                ),
                (
                    PathBuf::from("/cg/cpu/ignis-e1/cpu.cfs_burst_us"),
                    "7235".to_string()
                ),
            ]
        );
        assert_eq!(
            cpu_share(&fs, &v2, &e2, 3538),
            [
                (
                    PathBuf::from("/cg/ignis.service/ignis-e2/cpu.max"),
                    "200000 100000".to_string()
                ),
                (
                    PathBuf::from("/cg/ignis.service/ignis-e2/cpu.max.burst"),
                    "200000".to_string()
                ),
            ]
        );
    }

    #[test]
    fn v2_plan_and_removal() {
        let fs = FakeFs::default();
        let cg = create(&fs, &Layout::V2("/cg/ignis.service".into()), "e2", 3538).unwrap();
        assert!(remove(&fs, &cg));
        assert_eq!(
            *fs.ops.lock().unwrap(),
            [
                "mkdir /cg/ignis.service/ignis-e2",
                "/cg/ignis.service/ignis-e2/pids.max = 1024",
                "/cg/ignis.service/ignis-e2/memory.max = 3709861888",
                "/cg/ignis.service/ignis-e2/memory.swap.max = 0",
                "/cg/ignis.service/ignis-e2/cpu.max = max 100000",
                "rmdir /cg/ignis.service/ignis-e2",
            ]
        );
        assert_eq!(cg.peak, Path::new("/cg/ignis.service/ignis-e2/memory.peak"));
        assert_eq!(
            cg.events,
            Path::new("/cg/ignis.service/ignis-e2/memory.events")
        );
    }

    #[test]
    fn oom_kills_are_read_from_v1_and_v2_event_files() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        let v2 = "low 0\nhigh 0\nmax 41\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(oom_kills(v1), Some(2));
        assert_eq!(oom_kills(v2), Some(1));
        assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 0\n"), None);
        assert_eq!(oom_kills(""), None);
    }

    #[test]
    fn stale_environment_cgroups_go_busy_and_foreign_ones_stay() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        for d in ["a/ignis-old", "a/ignis-busy", "a/other", "b/ignis-x"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        // A cgroup with processes cannot be removed; a non-empty directory
        // stands in for it.
        std::fs::write(a.join("ignis-busy/cgroup.procs"), "42").unwrap();
        let parents = [a.clone(), b.clone(), root.path().join("missing")];
        assert_eq!(remove_stale(&parents, Duration::from_secs(3600)), 0);
        assert_eq!(remove_stale(&parents, Duration::ZERO), 2);
        assert!(a.join("ignis-busy").exists() && a.join("other").exists());
        assert!(!a.join("ignis-old").exists() && !b.join("ignis-x").exists());
    }

    #[test]
    fn a_live_server_s_blank_cgroups_stay_and_a_dead_one_s_go() {
        let root = tempfile::tempdir().unwrap();
        let dead = crate::namespace::spawn::never_a_pid();
        let ours = format!("{POOL_PREFIX}{}-3", std::process::id());
        let theirs = format!("{POOL_PREFIX}{dead}-0");
        for d in [&ours, &theirs] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        assert_eq!(pool_owner(&ours), Some(std::process::id() as libc::pid_t));
        assert_eq!(pool_owner("ignis-0123abcd"), None);
        assert_eq!(
            remove_stale(&[root.path().to_path_buf()], Duration::ZERO),
            1
        );
        assert!(root.path().join(&ours).exists() && !root.path().join(&theirs).exists());
    }

    #[test]
    fn detects_v1_nested_memory_cgroup() {
        let root = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids"] {
            std::fs::create_dir(root.path().join(c)).unwrap();
            std::fs::write(root.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        let text = "8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        let layout = Layout::detect(text, root.path()).unwrap();
        assert_eq!(
            layout,
            Layout::V1 {
                memory: root.path().join("memory/process_api/abc"),
                cpu: root.path().join("cpu/"),
                pids: root.path().join("pids/"),
            }
        );
    }
}
