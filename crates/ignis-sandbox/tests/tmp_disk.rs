//! `/tmp` is disk, not memory (issue 10): environments of the `namespace`
//! sandbox get a file system of their own on a loop device, sized by
//! `EphemeralStorage`, instead of a tmpfs charged to their memory cgroup.
//!
//! Root only (and `mkfs.ext4`): the tests are `#[ignore]`d, and run as
//! root with `--ignored` (`scripts/test.sh`). Each test starts its own
//! disks in a temporary directory and
//! counts — not times — what they leave.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ignis_sandbox::namespace::disk::TmpDisks;
use ignis_sandbox::namespace::{NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use ignis_sandbox::{ExitInfo, LaunchSpec, Sandbox};
use tokio::io::AsyncReadExt;

struct Setup {
    sandbox: Arc<NamespaceSandbox>,
    disks: Arc<TmpDisks>,
    dir: tempfile::TempDir,
}

impl Setup {
    /// The sandbox with disks whose images go in a directory of the test's
    /// own. These tests need root and `mkfs.ext4`: they are `#[ignore]`d
    /// for it and run as root with `--ignored` (`scripts/test.sh`), where
    /// a sandbox or disks that cannot start fail them.
    fn new() -> Setup {
        let sandbox = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)
            .expect("the namespace sandbox starts (as root)");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("code")).unwrap();
        let disks = Arc::new(
            TmpDisks::start(&dir.path().join("disks")).expect("start the /tmp disks (mkfs.ext4)"),
        );
        Setup {
            sandbox: Arc::new(sandbox.with_tmp_disks(disks.clone())),
            disks,
            dir,
        }
    }

    fn disk_dir(&self) -> PathBuf {
        self.dir.path().join("disks")
    }

    fn spec(&self, id: &str, script: &str, memory_mb: u32, tmp_mb: u32) -> LaunchSpec {
        LaunchSpec {
            env_id: format!("tmpdisk-{id}-{}", std::process::id()),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            code_dir: self.dir.path().join("code"),
            tmp_dir: self.dir.path().join("unused"),
            opt_dir: None,
            runtime_dir: None,
            env: Vec::new(),
            memory_mb,
            tmp_mb,
            prestart: None,
        }
    }
}

async fn run(s: &dyn Sandbox, spec: LaunchSpec) -> (String, ExitInfo) {
    let mut l = s.launch(spec).await.unwrap();
    let mut out = String::new();
    l.output.read_to_string(&mut out).await.unwrap();
    let mut rx = l.process.exited();
    let info = rx.wait_for(Option::is_some).await.unwrap().unwrap();
    (out, info)
}

/// The value after `key=` on a line of `out`.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
}

/// What the function sees of its `/tmp`: its file system type (from
/// `/proc/mounts`), mode and owner, and `df`'s size and free space in
/// bytes.
const DESCRIBE_TMP: &str = r#"
    echo fstype=$(awk '$2 == "/tmp" { print $3 }' /proc/mounts)
    echo mode=$(stat -c %A:%u /tmp)
    echo size=$(df -B1 --output=size /tmp | tail -1 | tr -d ' ')
    echo avail=$(df -B1 --output=avail /tmp | tail -1 | tr -d ' ')
"#;

#[ignore = "needs root (namespaces, cgroups, loop devices): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_full_512_mb_tmp_answers_enospc() {
    let t = Setup::new();
    // 256 MB of memory: the 300 MB past it that a tmpfs /tmp would have
    // charged to it (and been OOM-killed for) fit here.
    let script = format!(
        "{DESCRIBE_TMP}
        dd if=/dev/zero of=/tmp/fill bs=1M 2>&1 | grep -o 'No space left on device' | head -1
        echo written=$(stat -c %s /tmp/fill)"
    );
    let (out, info) = run(t.sandbox.as_ref(), t.spec("full", &script, 256, 512)).await;
    println!("{out}");
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    assert_eq!(field(&out, "fstype"), "ext4");
    assert_eq!(field(&out, "mode"), "drwxrwxrwt:0");
    assert!(out.contains("No space left on device"), "{out}");
    let asked = 512.0 * 1024.0 * 1024.0;
    for key in ["size", "avail", "written"] {
        let bytes: f64 = field(&out, key).parse().unwrap();
        let ratio = bytes / asked;
        assert!(
            (0.99..=1.01).contains(&ratio),
            "{key}: {bytes} bytes is {ratio:.4} of 512 MB"
        );
    }
}

#[ignore = "needs root (namespaces, cgroups, loop devices): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_128_mb_function_writes_1_gb_into_a_2_gb_tmp() {
    let t = Setup::new();
    let script = format!(
        "{DESCRIBE_TMP}
        dd if=/dev/zero of=/tmp/big bs=1M count=1024 2>/dev/null
        echo dd=$?
        echo written=$(stat -c %s /tmp/big)"
    );
    let launched = t
        .sandbox
        .launch(t.spec("big", &script, 128, 2048))
        .await
        .unwrap();
    let mut out = String::new();
    let mut output = launched.output;
    output.read_to_string(&mut out).await.unwrap();
    let mut rx = launched.process.exited();
    let info = rx.wait_for(Option::is_some).await.unwrap().unwrap();
    let peak = launched.process.peak_memory_bytes().unwrap_or(0);
    println!("{out}peak memory: {} MB", peak >> 20);
    // Not OOM-killed: the page cache the writes went through is
    // reclaimable (written back to the disk), unlike a tmpfs's pages.
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    assert_eq!(field(&out, "fstype"), "ext4");
    assert_eq!(field(&out, "dd"), "0");
    assert_eq!(field(&out, "written"), (1u64 << 30).to_string());
    let size: f64 = field(&out, "size").parse().unwrap();
    let ratio = size / (2048.0 * 1024.0 * 1024.0);
    assert!((0.99..=1.01).contains(&ratio), "df says {size} bytes");
    assert!(peak <= 128 << 20, "peak {peak} bytes with a 128 MB limit");
}

#[ignore = "needs root (namespaces, cgroups, loop devices): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_second_environment_does_not_see_the_first_one_s_files() {
    let t = Setup::new();
    // The first writes its file, says so, and stays until killed.
    let first = t
        .sandbox
        .launch(t.spec(
            "first",
            "echo secret > /tmp/first.txt && echo written; exec sleep 60",
            128,
            512,
        ))
        .await
        .unwrap();
    let mut output = first.output;
    let mut said = [0u8; 8];
    output.read_exact(&mut said).await.unwrap();
    assert_eq!(&said, b"written\n");
    let look = format!("{DESCRIBE_TMP} echo tmp=[$(ls -A /tmp)]");
    let (out, info) = run(t.sandbox.as_ref(), t.spec("second", &look, 128, 512)).await;
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    assert_eq!(field(&out, "fstype"), "ext4");
    assert_eq!(field(&out, "tmp"), "[]", "{out}");
    first.process.kill();
    first
        .process
        .exited()
        .wait_for(Option::is_some)
        .await
        .unwrap();
    // After the first has ended, a new environment starts empty too (its
    // disk is a new one, not the first one's reused).
    let (out, _) = run(t.sandbox.as_ref(), t.spec("third", &look, 128, 512)).await;
    assert_eq!(field(&out, "tmp"), "[]", "{out}");
}

/// What disks can leave behind, counted: image files in the disk
/// directory, loop devices whose backing file is (was) there, ext4 file
/// systems on those devices, and host mount-table entries of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Left {
    images: usize,
    loops: usize,
    filesystems: usize,
    mounts: usize,
}

fn left(dir: &Path) -> Left {
    let dir = dir.to_string_lossy().into_owned();
    let loops: Vec<String> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("loop"))
        .filter(|name| {
            std::fs::read_to_string(format!("/sys/block/{name}/loop/backing_file"))
                .is_ok_and(|f| f.starts_with(&dir))
        })
        .collect();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    Left {
        images: std::fs::read_dir(&dir).map_or(0, |d| d.count()),
        filesystems: loops
            .iter()
            .filter(|l| Path::new("/sys/fs/ext4").join(l).exists())
            .count(),
        mounts: mountinfo
            .lines()
            .filter(|line| loops.iter().any(|l| line.contains(&format!("/dev/{l} "))))
            .count(),
        loops: loops.len(),
    }
}

/// Polls (teardown is asynchronous) until `left` is `want`, at most 30 s.
async fn settle(dir: &Path, want: Left) -> Left {
    let mut now = left(dir);
    for _ in 0..600 {
        if now == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = left(dir);
    }
    now
}

#[ignore = "needs root (namespaces, cgroups, loop devices): scripts/test.sh runs it as root with --ignored"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_environments_leave_no_disk_behind() {
    let t = Setup::new();
    let total: usize = std::env::var("IGNIS_DISK_ENVS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    const BATCH: usize = 16;
    let mut done = 0;
    while done < total {
        let mut set = tokio::task::JoinSet::new();
        for i in done..(done + BATCH).min(total) {
            let (sandbox, spec) = (
                t.sandbox.clone(),
                t.spec(
                    &format!("many{i}"),
                    "head -c 1048576 /dev/zero > /tmp/f && test -s /tmp/f",
                    128,
                    512,
                ),
            );
            set.spawn(async move {
                let (out, info) = run(sandbox.as_ref(), spec).await;
                assert_eq!(info, ExitInfo::Code(0), "environment {i}: {out}");
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("an environment failed");
        }
        done = (done + BATCH).min(total);
    }
    // While the disks run, only the ready ones (mounted, not yet handed
    // to an environment) are left; the refill may still be making some.
    let expect = |ready| Left {
        images: 0,
        loops: ready,
        filesystems: ready,
        mounts: 0,
    };
    let mut during = (left(&t.disk_dir()), 0);
    for _ in 0..600 {
        let ready = t.disks.ready(512);
        during = (left(&t.disk_dir()), ready);
        if during.0 == expect(ready) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "after {total} environments: {:?} ({} ready)",
        during.0, during.1
    );
    assert_eq!(
        during.0,
        expect(during.1),
        "leftovers after {total} environments"
    );
    t.disks.shutdown();
    let none = Left {
        images: 0,
        loops: 0,
        filesystems: 0,
        mounts: 0,
    };
    let after = settle(&t.disk_dir(), none).await;
    println!("after the disks' shutdown: {after:?}");
    assert_eq!(after, none, "leftovers after the shutdown");
}
