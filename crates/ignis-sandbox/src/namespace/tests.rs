//! Root-only tests launch real environments and look from inside; without
//! root they print why they skip. The mount and cgroup plans are tested
//! without root beside their code.

use std::time::Instant;

use tokio::io::AsyncReadExt;

use super::*;
use crate::process::ProcessSandbox;

/// The sandbox under test; these tests need root (namespaces, cgroups),
/// are `#[ignore]`d for that reason, and run as root with `--ignored`
/// (`scripts/test.sh` does), where a sandbox that cannot start fails them.
fn sandbox() -> NamespaceSandbox {
    NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID).expect("the namespace sandbox starts (as root)")
}

struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for d in ["code", "tmp", "secret"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        std::fs::write(root.path().join("code/handler.txt"), "code").unwrap();
        Dirs { root }
    }

    fn spec(&self, id: &str, script: &str, memory_mb: u32, tmp_mb: u32) -> LaunchSpec {
        LaunchSpec {
            env_id: format!("{id}-{}", std::process::id()),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            code_dir: self.root.path().join("code"),
            tmp_dir: self.root.path().join("tmp"),
            opt_dir: None,
            runtime_dir: None,
            env: vec![("GREETING".into(), "hi".into())],
            memory_mb,
            tmp_mb,
            prestart: None,
        }
    }
}

async fn run(s: &dyn Sandbox, spec: LaunchSpec) -> (String, ExitInfo) {
    output_of(s.launch(spec).await.unwrap()).await
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn the_function_sees_only_its_own_small_machine() {
    let s = sandbox();
    let d = Dirs::new();
    let secret = d.root.path().join("secret");
    let script = format!(
        r#"
        cat /etc/shadow >/dev/null 2>&1 && echo shadow=readable || echo shadow=denied
        for p in /home /root {secret}; do test -e $p && echo $p=visible || echo $p=absent; done
        for p in /x /etc/x /usr/x /var/task/x; do touch $p 2>&1 | grep -q 'Read-only' && echo $p=rofs || echo $p=writable; done
        touch /tmp/ok && echo tmp=writable
        dd if=/dev/zero of=/tmp/big bs=1M count=20 2>&1 | grep -q 'No space left' && echo tmp=full
        echo pid=$$ uid=$(id -u) gid=$(id -g)
        echo procs=$(ls /proc | grep -c '^[0-9]')
        test -e /proc/1 && echo init=visible || echo init=hidden
        cat /proc/1/cmdline >/dev/null 2>&1 && echo init_cmdline=readable || echo init_cmdline=denied
        grep -q MemTotal /proc/meminfo && grep -q processor /proc/cpuinfo && echo sysinfo=readable
        grep -E '^(CapEff|NoNewPrivs|SigIgn|SigBlk)' /proc/self/status | tr -s '\t' ' '
        echo cwd=$(pwd) task=$(cat handler.txt) tmpdir=$TMPDIR greeting=$GREETING
        ls /dev | tr '\n' ' '; echo
        "#,
        secret = secret.display()
    );
    let (out, info) = run(&s, d.spec("see", &script, 128, 8)).await;
    println!("{out}");
    assert_eq!(info, ExitInfo::Code(0));
    for want in [
        "shadow=denied",
        "/home=absent",
        "/root=absent",
        &format!("{}=absent", secret.display()),
        "/x=rofs",
        "/etc/x=rofs",
        "/usr/x=rofs",
        "/var/task/x=rofs",
        "tmp=writable",
        "tmp=full",
        "pid=2 uid=993 gid=990",
        "init=hidden",
        "init_cmdline=denied",
        "sysinfo=readable",
        "CapEff: 0000000000000000",
        "NoNewPrivs: 1",
        // No signal ignored or blocked (SIGPIPE included, which the Rust
        // server ignores): as a fresh process on Lambda.
        "SigIgn: 0000000000000000",
        "SigBlk: 0000000000000000",
        "cwd=/var/task task=code tmpdir=/tmp greeting=hi",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let procs: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(procs <= 6, "the environment sees {procs} processes");
    for dev in ["null", "zero", "random", "urandom", "full", "tty", "shm"] {
        assert!(out.contains(dev), "/dev/{dev} missing");
    }
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn the_runtime_client_is_at_var_runtime_and_tmp_starts_empty() {
    let s = sandbox();
    let d = Dirs::new();
    // A runtime client under the host's /tmp, as when the data dir is there.
    let client = d.root.path().join("data/runtimes/python");
    std::fs::create_dir_all(&client).unwrap();
    std::fs::write(client.join("bootstrap.py"), "client").unwrap();
    assert!(client.starts_with(std::env::temp_dir()));
    let script = format!(
        r#"
        echo tmp=[$(ls -A /tmp)]
        echo client=$(cat /var/runtime/bootstrap.py)
        touch /var/runtime/x 2>&1 | grep -q 'Read-only' && echo runtime=rofs
        test -e {client} && echo host_path=visible || echo host_path=absent
        "#,
        client = client.display()
    );
    let mut spec = d.spec("runtime", &script, 128, 8);
    spec.runtime_dir = Some(client);
    let (out, info) = run(&s, spec).await;
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    for want in [
        "tmp=[]",
        "client=client",
        "runtime=rofs",
        "host_path=absent",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn allocating_past_memory_size_is_out_of_memory_and_measured() {
    let s = sandbox();
    let d = Dirs::new();
    let l = s
        .launch(d.spec("oom", "tail /dev/zero", 64, 8))
        .await
        .unwrap();
    let mut rx = l.process.exited();
    let info = rx.wait_for(Option::is_some).await.unwrap().unwrap();
    assert_eq!(info, ExitInfo::OutOfMemory);
    let peak = l.process.peak_memory_bytes().unwrap();
    assert!(
        peak > 32 << 20 && peak <= 64 << 20,
        "peak {peak} bytes with a 64 MB limit"
    );
}

#[test]
fn only_a_sigkill_after_an_oom_kill_is_out_of_memory() {
    let kill = ExitInfo::Signal(libc::SIGKILL);
    assert_eq!(classify(kill, Some(1), 0), ExitInfo::OutOfMemory);
    assert_eq!(classify(kill, Some(0), 0), kill);
    assert_eq!(classify(kill, None, 0), kill);
    // A child was OOM-killed during an earlier invocation the runtime
    // answered; a later plain SIGKILL of the runtime is not OOM.
    assert_eq!(classify(kill, Some(1), 1), kill);
    assert_eq!(classify(kill, Some(2), 1), ExitInfo::OutOfMemory);
    let term = ExitInfo::Signal(libc::SIGTERM);
    assert_eq!(classify(term, Some(1), 0), term);
    assert_eq!(classify(ExitInfo::Code(1), Some(1), 0), ExitInfo::Code(1));
    // The init's 128 + signal reads as the signal.
    assert_eq!(
        classify(ExitInfo::Code(137), Some(1), 0),
        ExitInfo::OutOfMemory
    );
    assert_eq!(
        classify(ExitInfo::Code(143), None, 0),
        ExitInfo::Signal(libc::SIGTERM)
    );
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_plain_sigkill_is_not_out_of_memory() {
    let s = sandbox();
    let d = Dirs::new();
    let (_, info) = run(&s, d.spec("kill", "kill -KILL $$", 128, 1)).await;
    assert_eq!(info, ExitInfo::Signal(libc::SIGKILL));
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn exit_status_and_signals_pass_through_the_init() {
    let s = sandbox();
    let d = Dirs::new();
    let (_, info) = run(&s, d.spec("exit", "exit 3", 128, 1)).await;
    assert_eq!(info, ExitInfo::Code(3));
    let (_, info) = run(&s, d.spec("sig", "kill -TERM $$; sleep 1", 128, 1)).await;
    assert_eq!(info, ExitInfo::Signal(libc::SIGTERM));
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn stdout_and_stderr_keep_their_order_through_the_init() {
    let s = sandbox();
    let d = Dirs::new();
    let script = "for i in 1 2 3; do echo out $i; echo err $i >&2; done";
    let (out, _) = run(&s, d.spec("order", script, 128, 1)).await;
    assert_eq!(out, "out 1\nerr 1\nout 2\nerr 2\nout 3\nerr 3\n");
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_missing_program_is_a_spawn_error_and_leaves_no_cgroup() {
    let s = sandbox();
    let d = Dirs::new();
    let mut spec = d.spec("missing", "", 128, 1);
    spec.program = "/var/task/bootstrap".into();
    let name = format!("{}{}", cgroup::PREFIX, spec.env_id);
    assert!(matches!(
        s.launch(spec).await,
        Err(SandboxError::Spawn { .. })
    ));
    let parents = s.layout().parents();
    for _ in 0..100 {
        if !parents.iter().any(|p| p.join(&name).exists()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cgroup {name} left behind");
}

/// Processes whose environment holds `marker`.
fn with_marker(marker: &str) -> usize {
    let needle = format!("IGNIS_LEAK_MARK={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|b| b.split(|c| *c == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_200_environments_leaves_nothing_behind() {
    let s = sandbox();
    let d = Dirs::new();
    let marker = format!("leak{}", std::process::id());
    for i in 0..200 {
        let mut spec = d.spec(&format!("leak{i}"), "sleep 60 & sleep 60", 128, 1);
        spec.env.push(("IGNIS_LEAK_MARK".into(), marker.clone()));
        let l = s.launch(spec).await.unwrap();
        l.process.kill();
        let mut rx = l.process.exited();
        rx.wait_for(Option::is_some).await.unwrap();
    }
    let prefix = format!("{}leak", cgroup::PREFIX);
    let suffix = format!("-{}", std::process::id());
    let count_cgroups = || {
        s.layout()
            .parents()
            .iter()
            .flat_map(|p| std::fs::read_dir(p).unwrap().flatten())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&prefix) && n.ends_with(&suffix)
            })
            .count()
    };
    let mut left = (usize::MAX, usize::MAX);
    for _ in 0..300 {
        left = (count_cgroups(), with_marker(&marker));
        if left == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "after 200 environments: {} cgroups, {} processes left",
        left.0, left.1
    );
    assert_eq!(left, (0, 0));
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn cold_start_overhead_against_the_process_backend() {
    let s = sandbox();
    let d = Dirs::new();
    let (mut ns, mut pr) = (Vec::new(), Vec::new());
    for i in 0..50 {
        for (backend, out) in [
            (&s as &dyn Sandbox, &mut ns),
            (&ProcessSandbox as &dyn Sandbox, &mut pr),
        ] {
            let started = Instant::now();
            let (_, info) = run(backend, d.spec(&format!("cold{i}"), "exit 0", 128, 1)).await;
            assert_eq!(info, ExitInfo::Code(0));
            out.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let p50 = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (n, p) = (p50(&mut ns), p50(&mut pr));
    println!(
        "launch to exit of /bin/sh, p50 of 50: namespace {n:.2} ms, process {p:.2} ms, overhead {:.2} ms",
        n - p
    );
}

/// A Python script that makes each denied call through `syscall(2)` and
/// prints `name=result`.
fn syscall_probe() -> String {
    let arch = seccomp::Arch::native().expect("a seccomp architecture");
    let nr = |name: &str| {
        seccomp::POLICY
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.nr(arch))
            .unwrap_or_else(|| panic!("{name}"))
    };
    format!(
        r#"
import ctypes, errno, os, threading
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    r = libc.syscall(nr, *args)
    print(f"{{name}}=" + ("ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]), flush=True)
call("mount", {mount}, b"none", b"/tmp", b"tmpfs", 0, None)
call("unshare", {unshare}, {newuser})
call("ptrace", {ptrace}, 0, 0, 0, 0)
call("settimeofday", {settimeofday}, None, None)
call("init_module", {init_module}, None, 0, b"")
call("clone3", {clone3}, None, 0)
t = threading.Thread(target=lambda: print("thread=ok", flush=True)); t.start(); t.join()
pid = os.fork()
if pid == 0:
    os._exit(0)
print("fork=" + ("ok" if os.waitpid(pid, 0)[1] == 0 else "failed"))
print([l.replace("\t", " ") for l in open("/proc/self/status") if l.startswith("Seccomp:")][0].strip())
"#,
        mount = nr("mount"),
        unshare = nr("unshare"),
        newuser = libc::CLONE_NEWUSER,
        ptrace = nr("ptrace"),
        settimeofday = nr("settimeofday"),
        init_module = nr("init_module"),
        clone3 = nr("clone3"),
    )
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn the_seccomp_filter_denies_what_a_function_never_needs() {
    let s = sandbox();
    let d = Dirs::new();
    let mut spec = d.spec("seccomp", "", 1769, 8);
    spec.program = "/usr/bin/python3".into();
    spec.args = vec!["-c".into(), syscall_probe()];
    let (out, info) = run(&s, spec).await;
    println!("{out}");
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    // unshare(CLONE_NEWUSER) and ptrace(TRACEME) succeed for an
    // unprivileged user without the filter: these show it is there.
    for want in [
        "mount=EPERM",
        "unshare=EPERM",
        "ptrace=EPERM",
        "settimeofday=EPERM",
        "init_module=EPERM",
        "clone3=ENOSYS",
        "thread=ok",
        "fork=ok",
        "Seccomp: 2",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn interpreters_still_run_under_the_filter() {
    let s = sandbox();
    let d = Dirs::new();
    let node = "const {execFileSync} = require('child_process');
        const {Worker} = require('worker_threads');
        const out = execFileSync('/bin/sh', ['-c', 'echo child=ok']).toString().trim();
        new Worker('require(\"worker_threads\").parentPort.postMessage(1)', {eval: true})
          .on('message', () => console.log(out + ' worker=ok'));";
    let cases = [
        (
            "/bin/sh",
            "-c",
            "sh -c 'echo sub=ok' && echo sh=ok",
            "sh=ok",
        ),
        (
            "/usr/bin/python3",
            "-c",
            "import subprocess, concurrent.futures as f; \
             print(subprocess.run(['echo', 'py'], capture_output=True, text=True).stdout.strip() + \
             '=' + f.ThreadPoolExecutor(4).submit(lambda: 'ok').result())",
            "py=ok",
        ),
        ("/usr/bin/node", "-e", node, "child=ok worker=ok"),
    ];
    for (program, flag, script, want) in cases {
        if !Path::new(program).exists() {
            println!("skipped {program}: not installed");
            continue;
        }
        let mut spec = d.spec("interp", "", 1769, 8);
        spec.program = program.into();
        spec.args = vec![flag.into(), script.into()];
        let (out, info) = run(&s, spec).await;
        assert_eq!(info, ExitInfo::Code(0), "{program}: {out}");
        assert!(out.contains(want), "{program}: {out}");
    }
}

/// Where a host file of a merged-/usr system lives inside a root: `/lib/x`
/// → `usr/lib/x` (the root's `lib` is a link to `usr/lib`).
fn under_usr(host: &Path) -> PathBuf {
    let rel = host.strip_prefix("/").unwrap_or(host);
    if rel.starts_with("usr") {
        rel.to_path_buf()
    } else {
        Path::new("usr").join(rel)
    }
}

/// A root file system of bash alone, laid out like Amazon Linux 2023
/// (merged /usr): the binary, the libraries `ldd` lists, `sh -> bash`, an
/// `etc/os-release` with `ID=ignis-test` and an empty `etc/resolv.conf`.
/// `None` (with the reason printed) when this host has no bash or ldd.
pub(super) fn tiny_root() -> Option<tempfile::TempDir> {
    let Some(bash) = ["/usr/bin/bash", "/bin/bash"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        println!("skipped: no bash on this host");
        return None;
    };
    let ldd = match std::process::Command::new("ldd").arg(bash).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        other => {
            println!("skipped: ldd {} failed: {other:?}", bash.display());
            return None;
        }
    };
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    for dir in ["usr/bin", "usr/lib", "usr/lib64", "etc"] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    for (link, to) in [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        std::os::unix::fs::symlink(to, r.join(link)).unwrap();
    }
    std::fs::copy(bash, r.join("usr/bin/bash")).unwrap();
    std::os::unix::fs::symlink("bash", r.join("usr/bin/sh")).unwrap();
    for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let inside = r.join(under_usr(Path::new(lib)));
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::copy(lib, &inside).unwrap();
    }
    std::fs::write(
        r.join("etc/os-release"),
        "NAME=\"Ignis test root\"\nID=ignis-test\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/resolv.conf"), "").unwrap();
    Some(d)
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_custom_root_replaces_the_host_s_base_directories() {
    sandbox();
    let root = tiny_root().expect("bash and ldd on this host");
    let base = base_root::BaseRoot::custom(root.path()).unwrap();
    // The self-check runs /bin/sh inside the tiny root.
    let s = NamespaceSandbox::probe_with(DEFAULT_UID, DEFAULT_GID, base)
        .await
        .unwrap();
    assert_eq!(
        s.base_root().dir(),
        Some(std::fs::canonicalize(root.path()).unwrap().as_path())
    );
    let d = Dirs::new();
    // Bash builtins only: the root has no other program.
    let script = r#"
        while IFS= read -r l; do echo "os-release: $l"; done </etc/os-release
        echo "resolv=[$(</etc/resolv.conf)]"
        test -L /bin && echo bin=link
        test -e /usr/bin/python3 && echo host_usr=visible || echo host_usr=absent
        echo x 2>/dev/null >/etc/x && echo etc=writable || echo etc=readonly
        echo "task=$(<handler.txt)"
        "#;
    let (out, info) = run(&s, d.spec("root", script, 128, 8)).await;
    println!("{out}");
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for want in [
        "os-release: ID=ignis-test",
        &format!("resolv=[{}]", host_resolv.trim_end_matches('\n')),
        "bin=link",
        "host_usr=absent",
        "etc=readonly",
        "task=code",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let host_id = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let host_id = host_id
        .lines()
        .find(|l| l.starts_with("ID="))
        .unwrap_or("ID=");
    assert!(
        !out.contains(&format!("os-release: {host_id}\n")),
        "the host's os-release leaked in:\n{out}"
    );
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_custom_root_without_etc_gets_the_host_s_resolver_files_only() {
    sandbox();
    let root = tiny_root().expect("bash and ldd on this host");
    std::fs::remove_dir_all(root.path().join("etc")).unwrap();
    let base = base_root::BaseRoot::custom(root.path()).unwrap();
    let s = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)
        .unwrap()
        .with_base_root(base);
    let d = Dirs::new();
    let script = r#"
        echo "etc=[$(echo /etc/*)]"
        echo "hosts=[$(</etc/hosts)]"
        echo x 2>/dev/null >/etc/x && echo etc=writable || echo etc=readonly
        "#;
    let (out, info) = run(&s, d.spec("noetc", script, 128, 8)).await;
    println!("{out}");
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    let mut files: Vec<&str> = base_root::HOST_FILES
        .iter()
        .filter(|f| Path::new("/").join(f).is_file())
        .map(|f| f.trim_start_matches("etc/"))
        .collect();
    files.sort();
    let listed = files
        .iter()
        .map(|f| format!("/etc/{f}"))
        .collect::<Vec<_>>();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for want in [
        format!("etc=[{}]", listed.join(" ")),
        format!("hosts=[{}]", hosts.trim_end_matches('\n')),
        "etc=readonly".to_string(),
    ] {
        assert!(out.contains(&want), "missing {want:?} in:\n{out}");
    }
}

/// A host interpreter outside the base root, reached through a link that is
/// not mounted itself (a venv's `bin/python3` -> pyenv's), runs by its real
/// path inside its mounted installation.
#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn an_interpreter_reached_through_an_unmounted_link_runs() {
    let s = sandbox();
    let Some(real) = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("python3"))
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .find(|p| {
            !["/usr", "/bin", "/sbin", "/lib"]
                .iter()
                .any(|b| p.starts_with(b))
                && !p.components().any(|c| c.as_os_str() == "shims")
        })
    else {
        println!("skipped: no python3 outside /usr on PATH");
        return;
    };
    let d = Dirs::new();
    let venv = tempfile::tempdir().unwrap();
    std::fs::create_dir(venv.path().join("bin")).unwrap();
    let link = venv.path().join("bin/python3");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut spec = d.spec("venv-link", "", 1769, 8);
    spec.program = link;
    spec.args = vec![
        "-c".into(),
        "import sys; print('exe=' + sys.executable)".into(),
    ];
    let (out, info) = run(&s, spec).await;
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    assert!(out.contains(&format!("exe={}", real.display())), "{out}");
}

#[test]
fn the_environment_has_one_value_per_key_the_last_given() {
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let got: Vec<String> = envp(&env(&[
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/bin"),
        ("LANG", "C.UTF-8"),
        ("TMPDIR", "/elsewhere"),
    ]))
    .into_iter()
    .map(|c| c.into_string().unwrap())
    .collect();
    assert_eq!(got, ["LANG=C.UTF-8", "PATH=/usr/bin", "TMPDIR=/tmp"]);
}

/// What a runtime sees of itself, to compare a prepared sandbox's with a
/// fresh launch's.
const SELF_VIEW: &str = r#"
    echo pid=$$ uid=$(id -u) gid=$(id -g) cwd=$(pwd) task=$(cat handler.txt) greeting=$GREETING
    grep -E '^(CapEff|CapPrm|NoNewPrivs|Seccomp|SigIgn|SigBlk)' /proc/self/status | tr -s '\t' ' '
    echo fds=$(ls /proc/self/fd | tr '\n' ' ') stdin=$(readlink /proc/self/fd/0)
"#;

async fn output_of(mut l: Launched) -> (String, ExitInfo) {
    let mut out = String::new();
    l.output.read_to_string(&mut out).await.unwrap();
    let mut rx = l.process.exited();
    let info = rx.wait_for(Option::is_some).await.unwrap().unwrap();
    (out, info)
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_prepared_environment_runs_its_program_as_a_fresh_launch_would() {
    let s = sandbox();
    let d = Dirs::new();
    // Code, layers and a runtime client: three trees attached by the
    // waiting runtime.
    for (dir, file) in [("opt", "layer.txt"), ("client", "client.txt")] {
        std::fs::create_dir(d.root.path().join(dir)).unwrap();
        std::fs::write(d.root.path().join(dir).join(file), dir).unwrap();
    }
    let script = format!(
        "{SELF_VIEW}\necho opt=$(cat /opt/layer.txt) client=$(cat /var/runtime/client.txt)"
    );
    let with_trees = |id: &str| LaunchSpec {
        opt_dir: Some(d.root.path().join("opt")),
        runtime_dir: Some(d.root.path().join("client")),
        ..d.spec(id, &script, 128, 8)
    };
    let spec = with_trees("prepared");
    // Its runtime is forked before the function is known, and attaches
    // the trees and execs the program once specialized.
    let held = s.prestart(&spec).await.unwrap();
    assert!(held.alive());
    let (out, info) = output_of(s.specialize(held, &spec).await.unwrap()).await;
    assert_eq!(info, ExitInfo::Code(0), "{out}");
    let (fresh, info) = run(&s, with_trees("prepared-fresh")).await;
    assert_eq!(info, ExitInfo::Code(0), "{fresh}");
    println!("{out}");
    assert_eq!(out, fresh);
    for want in [
        "pid=2 uid=993 gid=990 cwd=/var/task task=code greeting=hi",
        "CapEff: 0000000000000000",
        "NoNewPrivs: 1",
        "Seccomp: 2",
        "stdin=/dev/null",
        "opt=opt client=client",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_prepared_environment_whose_program_cannot_exec_reports_why() {
    let s = sandbox();
    let d = Dirs::new();
    // Missing, and not executable: the errno of the runtime's execve,
    // as a fresh launch reports it.
    for (program, errno) in [
        ("/var/task/missing", libc::ENOENT),
        ("/var/task/handler.txt", libc::EACCES),
    ] {
        // Each its own environment id: a cgroup made for an id is removed
        // (its processes killed) by the ended environment's clean-up, which
        // may still be under way when the next launch starts.
        let spec = LaunchSpec {
            program: program.into(),
            args: vec![],
            ..d.spec(&format!("noexec{errno}"), "", 128, 8)
        };
        let held = s.prestart(&spec).await.unwrap();
        let errno_of = |e: SandboxError| match e {
            SandboxError::Spawn { source, .. } => source.raw_os_error(),
            other => panic!("{other}"),
        };
        let prepared = s.specialize(held, &spec).await.err().expect("no exec");
        assert_eq!(errno_of(prepared), Some(errno), "{program}");
        let fresh = s.launch(spec).await.err().expect("no exec");
        assert_eq!(errno_of(fresh), Some(errno), "{program}");
    }
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_prepared_environment_whose_waiting_runtime_died_ends() {
    let s = sandbox();
    let d = Dirs::new();
    let spec = d.spec("prepared-dies", "true", 128, 8);
    let held = s.prestart(&spec).await.unwrap();
    let init = held.pid().unwrap().to_string();
    // The runtime forked ahead: the init's only child.
    let children: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|st| {
                st.lines()
                    .any(|l| l.strip_prefix("PPid:").map(str::trim) == Some(init.as_str()))
            })
        })
        .collect();
    assert_eq!(children.len(), 1, "{children:?}");
    // SAFETY: kill of a process of this test's own environment.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(children[0] as libc::pid_t, libc::SIGKILL);
    }
    let began = Instant::now();
    while held.alive() {
        assert!(
            began.elapsed() < std::time::Duration::from_secs(10),
            "the init outlived its runtime"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Specializing it fails (the pool then launches afresh).
    assert!(s.specialize(held, &spec).await.is_err());
}

#[ignore = "needs root (namespaces, cgroups): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn a_prepared_environment_is_limited_for_its_function_s_size() {
    let s = sandbox();
    let d = Dirs::new();
    // Prepared for 256 MB and specialized for 64 (the limits written
    // again), and prepared for 64 (the limits already right).
    for prepared_mb in [256, 64] {
        let held = s
            .prestart(&d.spec("prep-oom", "true", prepared_mb, 8))
            .await
            .unwrap();
        let l = s
            .specialize(held, &d.spec("prep-oom", "tail /dev/zero", 64, 8))
            .await
            .unwrap();
        let mut rx = l.process.exited();
        let info = rx.wait_for(Option::is_some).await.unwrap().unwrap();
        assert_eq!(info, ExitInfo::OutOfMemory, "prepared for {prepared_mb} MB");
        let peak = l.process.peak_memory_bytes().unwrap();
        assert!(
            peak > 32 << 20 && peak <= 64 << 20,
            "peak {peak} bytes with a 64 MB limit, prepared for {prepared_mb} MB"
        );
    }
}
