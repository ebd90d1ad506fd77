//! No leaks after 10,000 environments (issue 4): launches
//! `IGNIS_LEAK_ENVS` (10,000) `namespace` environments through the
//! [`Sandbox`] trait, `IGNIS_LEAK_BATCH` (32) at a time, each with a scratch
//! directory of its own; half run `/bin/true` and exit, half run `/bin/sleep
//! 60` and are killed at once. Then it counts — not times — what
//! is left: processes (children of this test and processes carrying the
//! run's marker variable), mounts in the host's mount table under the run's
//! directory, the environments' cgroup directories below Ignis's, scratch
//! directories that cannot be removed, this process's open file
//! descriptors, and the veths of the run's network. Every count must be back
//! at its starting value. The environments are networked as `bridge` (own
//! network namespace and veth each) when the bridge can be set up, else
//! `none`; after the network's shutdown no veth of it is left.
//!
//! Needs root: ignored unless run with `--ignored` (as root; scripts/test.sh does). Like `ignis serve`,
//! it first turns on the cgroup2 `favordynmods` option (see
//! `namespace::dynmods`), and it forks its environments through a zygote
//! started before any thread (`namespace::zygote`), so it has its own
//! `main` (`harness = false`); the zygote is not counted as a leftover
//! child. A debug build takes about a minute on 2 cores.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ignis_sandbox::namespace::cgroup::Layout;
use ignis_sandbox::namespace::net::{NetMode, Network};
use ignis_sandbox::namespace::zygote::Zygote;
use ignis_sandbox::namespace::{dynmods, NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::{ExitInfo, LaunchSpec, Sandbox};

/// Variable every environment of the run carries, to find its processes.
const MARK: &str = "IGNIS_LEAK_MARK";

/// What an environment can leave behind, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    children: usize,
    marked: usize,
    mounts: usize,
    cgroups: usize,
    scratch: usize,
    fds: usize,
    veths: usize,
}

struct Run {
    zygote: Option<u32>,
    root: tempfile::TempDir,
    marker: String,
    prefix: String,
    layout: Layout,
    network: Arc<Network>,
}

impl Run {
    /// Even environments exit by themselves, odd ones are killed.
    fn spec(&self, i: usize) -> std::io::Result<LaunchSpec> {
        let tmp_dir = self.root.path().join("envs").join(i.to_string());
        std::fs::create_dir(&tmp_dir)?;
        Ok(LaunchSpec {
            env_id: format!("{}{i}", self.prefix),
            program: if i % 2 == 0 {
                "/bin/true"
            } else {
                "/bin/sleep"
            }
            .into(),
            args: if i % 2 == 0 {
                vec![]
            } else {
                vec!["60".into()]
            },
            code_dir: self.root.path().join("code"),
            tmp_dir,
            opt_dir: None,
            runtime_dir: None,
            env: vec![(MARK.into(), self.marker.clone())],
            memory_mb: 128,
            tmp_mb: 1,
            prestart: None,
        })
    }

    fn count(&self) -> Counts {
        let root = self.root.path().to_string_lossy().into_owned();
        let cgroup_prefix = format!("ignis-{}", self.prefix);
        let pool_prefix = ignis_sandbox::namespace::cgpool::pool_prefix();
        Counts {
            children: processes(|stat, _| {
                parent_of(stat) == Some(std::process::id()) && pid_of(stat) != self.zygote
            }),
            marked: processes(|_, environ| {
                let needle = format!("{MARK}={}", self.marker);
                environ.split(|b| *b == 0).any(|v| v == needle.as_bytes())
            }),
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .lines()
                .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&root)))
                .count(),
            cgroups: self
                .layout
                .parents()
                .iter()
                .flat_map(|p| std::fs::read_dir(p).unwrap().flatten())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with(&cgroup_prefix) || name.starts_with(&pool_prefix)
                })
                .count(),
            scratch: entries(&self.root.path().join("envs")),
            fds: entries(Path::new("/proc/self/fd")),
            veths: veths(&self.network),
        }
    }
}

/// Host ends of the network's veths (none without a bridge).
fn veths(network: &Network) -> usize {
    let Some(prefix) = network.veth_prefix() else {
        return 0;
    };
    std::fs::read_dir("/sys/class/net").map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .count()
    })
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// Live (not zombie) processes for which `keep(stat, environ)` holds.
fn processes(keep: impl Fn(&str, &[u8]) -> bool) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            let path = e.path();
            let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            let environ = std::fs::read(path.join("environ")).unwrap_or_default();
            !stat.is_empty() && state_of(&stat) != Some("Z") && keep(&stat, &environ)
        })
        .count()
}

/// `pid (comm) state ppid ...`: the fields after the command name.
fn after_comm(stat: &str) -> impl Iterator<Item = &str> {
    stat.rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
}

fn state_of(stat: &str) -> Option<&str> {
    after_comm(stat).next()
}

fn pid_of(stat: &str) -> Option<u32> {
    stat.split(' ').next()?.parse().ok()
}

fn parent_of(stat: &str) -> Option<u32> {
    after_comm(stat).nth(1)?.parse().ok()
}

fn setting(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Launches environment `i`, kills it if odd, waits for it to end, removes
/// its scratch dir.
async fn one(sandbox: Arc<NamespaceSandbox>, run: Arc<Run>, i: usize) {
    let spec = run.spec(i).expect("create the scratch dir");
    let tmp_dir = spec.tmp_dir.clone();
    let launched = sandbox.launch(spec).await.expect("launch");
    let want = if i % 2 == 0 {
        ExitInfo::Code(0)
    } else {
        launched.process.kill();
        ExitInfo::Signal(libc::SIGKILL)
    };
    let info = *launched
        .process
        .exited()
        .wait_for(Option::is_some)
        .await
        .expect("exit watch");
    assert_eq!(info, Some(want), "environment {i}");
    drop(launched);
    // Busy (EBUSY) if a mount of the environment leaked to the host: then
    // it stays and is counted.
    let _ = std::fs::remove_dir(&tmp_dir);
}

async fn batch(sandbox: &Arc<NamespaceSandbox>, run: &Arc<Run>, range: std::ops::Range<usize>) {
    let mut set = tokio::task::JoinSet::new();
    for i in range {
        set.spawn(one(sandbox.clone(), run.clone(), i));
    }
    while let Some(r) = set.join_next().await {
        r.expect("an environment task panicked");
    }
}

/// Polls until the counts equal `want` (teardown is asynchronous: the
/// cgroups go once the kernel has finished with the namespace), at most
/// `attempts` times 50 ms; returns the last counts.
async fn settle(run: &Run, want: Counts, attempts: usize) -> Counts {
    let mut now = run.count();
    for _ in 0..attempts {
        if now == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = run.count();
    }
    now
}

const NAME: &str = "ten_thousand_environments_leave_nothing_behind";
/// Blank cgroups kept ready, as `ignis serve` keeps them.
const CGROUP_POOL: usize = 4;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<_> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        return;
    }
    // Ignored as libtest ignores a test: it needs root, and runs with
    // `--ignored` or `--include-ignored` (scripts/test.sh, as root).
    if !args
        .iter()
        .any(|a| a == "--ignored" || a == "--include-ignored")
    {
        println!(
            "test {NAME} ... ignored, needs root (namespaces, cgroups): run with --ignored as root"
        );
        println!("\ntest result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out");
        return;
    }
    // Forked while this process is single-threaded, as `ignis serve` does.
    let zygote = ignis_sandbox::namespace::running_as_root()
        .then(|| Arc::new(Zygote::start().expect("start the zygote")));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("start the runtime")
        .block_on(ten_thousand_environments_leave_nothing_behind(zygote));
    println!("test {NAME} ... ok");
}

async fn ten_thousand_environments_leave_nothing_behind(zygote: Option<Arc<Zygote>>) {
    let sandbox = match NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID) {
        Ok(s) => s
            .with_zygote(zygote.clone().expect("root has a zygote"))
            .with_cgroup_pool(CGROUP_POOL)
            .expect("start the cgroup pool"),
        Err(e) => panic!("the namespace sandbox starts (as root): {e}"),
    };
    let network = Network::setup(NetMode::Bridge, 4)
        .or_else(|e| {
            println!("no bridge ({e}): environments get network mode none");
            Network::setup(NetMode::None, 4)
        })
        .expect("set up the environments' network");
    let network = Arc::new(network);
    println!("network: {}", network.describe());
    let sandbox = Arc::new(sandbox.with_network(network.clone()));
    println!("favordynmods: {:?}", dynmods::favor_dynamic_cgroups());
    let total = setting("IGNIS_LEAK_ENVS", 10_000);
    let size = setting("IGNIS_LEAK_BATCH", 32).max(1);
    let root = tempfile::tempdir().unwrap();
    for d in ["code", "envs"] {
        std::fs::create_dir(root.path().join(d)).unwrap();
    }
    let run = Arc::new(Run {
        zygote: zygote.as_ref().map(|z| z.pid() as u32),
        marker: format!("leak10k-{}", std::process::id()),
        prefix: format!("leak10k-{}-", std::process::id()),
        layout: sandbox.layout().clone(),
        root,
        network: network.clone(),
    });
    // A first batch makes the runtime create what it keeps for good (the
    // SIGCHLD pipe, worker threads) before the starting count.
    batch(&sandbox, &run, total..total + size).await;
    // At rest the network's pool holds its prepared namespaces (with their
    // veths in `bridge`); the warm-up's veths go in batches in the
    // background, and the descriptor count is read once they have.
    let pooled = if network.veth_prefix().is_some() {
        4
    } else {
        0
    };
    let mut empty = Counts {
        children: 0,
        marked: 0,
        mounts: 0,
        cgroups: CGROUP_POOL * sandbox.layout().parents().len(),
        scratch: 0,
        fds: 0,
        veths: pooled,
    };
    empty.fds = settle_fds(&run, empty, 400).await;
    let start = settle(&run, empty, 200).await;
    println!("before: {start:?}");
    assert_eq!(start, empty, "the warm-up left something behind");
    let host_mounts = mount_count();

    let mut done = 0;
    while done < total {
        let end = (done + size).min(total);
        batch(&sandbox, &run, done..end).await;
        done = end;
        if done % 1000 < size {
            println!("{done} environments");
        }
    }
    let after = settle(&run, start, 600).await;
    println!("after {total} environments: {after:?}");
    println!(
        "host mount table: {host_mounts} entries before, {} after (other processes may mount meanwhile)",
        mount_count()
    );
    assert_eq!(after, start, "leftovers after {total} environments");
    network.shutdown();
    if let Some(pool) = sandbox.cgroup_pool() {
        pool.shutdown();
    }
    assert_eq!(
        run.count().cgroups,
        0,
        "cgroups left after the pool's shutdown"
    );
    assert_eq!(
        veths(&network),
        0,
        "veths left after the network's shutdown"
    );
}

/// Polls until everything but the descriptor count is at `empty` and the
/// descriptor count has held still for a few reads; returns it.
async fn settle_fds(run: &Run, empty: Counts, attempts: usize) -> usize {
    let (mut last, mut still) = (usize::MAX, 0);
    for _ in 0..attempts {
        let now = run.count();
        let rest = Counts { fds: 0, ..now };
        if rest == empty && now.fds == last {
            still += 1;
            if still >= 5 {
                break;
            }
        } else {
            still = 0;
        }
        last = now.fds;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

fn mount_count() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo").map_or(0, |t| t.lines().count())
}
