//! The `process` backend: the runtime is a child process in its own process
//! group, with a clean environment, its working directory in the code and
//! `TMPDIR` pointing at its scratch directory. No isolation: for development
//! and unprivileged hosts.
//!
//! The child asks the kernel to kill it when Ignis dies (`PR_SET_PDEATHSIG`),
//! so a killed server leaves no runtime behind; `kill` ends the whole process
//! group so helpers a bootstrap started go with it. It runs in the
//! environments' CPU class ([`crate::sched`]).

use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::{EnvProcess, ExitInfo, LaunchSpec, Launched, Sandbox, SandboxError};

/// Runs environments as plain child processes.
#[derive(Debug, Default, Clone)]
pub struct ProcessSandbox;

#[async_trait::async_trait]
impl Sandbox for ProcessSandbox {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn launch(&self, spec: LaunchSpec) -> Result<Launched, SandboxError> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .current_dir(&spec.code_dir)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env("TMPDIR", &spec.tmp_dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // One pipe for stdout and stderr, so their lines keep their order.
        let (writer, output) = pipe::pipe().map_err(SandboxError::Pipes)?;
        let writer = writer.into_blocking_fd().map_err(SandboxError::Pipes)?;
        cmd.stdout(writer.try_clone().map_err(SandboxError::Pipes)?)
            .stderr(writer);
        set_child_hooks(&mut cmd);
        let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source,
        })?;
        // The command holds the write ends: without it, the pipe ends when
        // the runtime's last process does.
        drop(cmd);
        let pid = child.id().unwrap_or(0);
        let (tx, rx) = watch::channel(None);
        tokio::spawn(supervise(child, tx));
        // Opened once: reading an open procfs file is cheaper than opening it
        // for every REPORT line.
        let status = std::fs::File::open(format!("/proc/{pid}/status")).ok();
        Ok(Launched {
            process: Box::new(ChildProcess {
                pid,
                exited: rx,
                status,
                sample: Mutex::default(),
            }),
            output,
            runtime_api: None,
        })
    }
}

async fn supervise(mut child: Child, tx: watch::Sender<Option<ExitInfo>>) {
    let info = ExitInfo::from_wait(child.wait().await, "the runtime process");
    let _ = tx.send(Some(info));
}

#[allow(unsafe_code)]
fn set_child_hooks(cmd: &mut Command) {
    let policy = crate::sched::policy();
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (setpgid, prctl, getppid,
    // sched_setscheduler, _exit) with no allocation.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            crate::sched::enter(policy);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() == 1 {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

struct ChildProcess {
    pid: u32,
    exited: watch::Receiver<Option<ExitInfo>>,
    status: Option<std::fs::File>,
    sample: Mutex<Sample>,
}

/// Generating `/proc/<pid>/status` costs the kernel ~10 µs, a tenth of a
/// warm invocation: back-to-back invocations reuse a reading this recent.
const SAMPLE_EVERY: Duration = Duration::from_millis(25);

/// The last reading of the peak resident set.
#[derive(Default)]
struct Sample {
    at: Option<Instant>,
    peak: u64,
}

impl EnvProcess for ChildProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    #[allow(unsafe_code)]
    fn kill(&self) {
        if self.pid == 0 {
            return;
        }
        // SAFETY: killpg only sends a signal; the group id is the child's own
        // (it called setpgid(0, 0)), so nothing outside the environment is hit.
        // Once reaped, the group is empty and the call fails with ESRCH.
        unsafe {
            libc::killpg(self.pid as libc::pid_t, libc::SIGKILL);
        }
    }

    fn peak_memory_bytes(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut sample = self.sample.lock().expect("sample lock poisoned");
        if sample.at.is_some_and(|at| at.elapsed() < SAMPLE_EVERY) {
            return Some(sample.peak);
        }
        let mut buf = [0u8; 4096];
        let status = self.status.as_ref()?;
        // Once the process is gone its status reads fail: the peak seen
        // so far stands.
        if let Some(peak) = status
            .read_at(&mut buf, 0)
            .ok()
            .and_then(|n| parse_vm_hwm(&buf[..n]))
        {
            sample.at = Some(Instant::now());
            sample.peak = sample.peak.max(peak);
        }
        Some(sample.peak)
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exited.clone()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `VmHWM` (peak resident set) from `/proc/<pid>/status`, in bytes.
fn parse_vm_hwm(status: &[u8]) -> Option<u64> {
    let start = status.windows(6).position(|w| w == b"VmHWM:")? + 6;
    let kb = status[start..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .try_fold(0u64, |acc, b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn spec(dir: &std::path::Path, script: &str) -> LaunchSpec {
        LaunchSpec {
            env_id: "t".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            code_dir: dir.to_path_buf(),
            tmp_dir: dir.to_path_buf(),
            opt_dir: None,
            runtime_dir: None,
            env: vec![("GREETING".into(), "hi".into())],
            memory_mb: 128,
            tmp_mb: 512,
            prestart: None,
        }
    }

    #[test]
    fn parses_hwm() {
        assert_eq!(
            parse_vm_hwm(b"Name:\tx\nVmHWM:\t  2048 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_vm_hwm(b"Name:\tx\n"), None);
    }

    #[tokio::test]
    async fn runs_with_clean_env_and_reports_exit() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = ProcessSandbox
            .launch(spec(dir.path(), "echo \"$GREETING $HOME $TMPDIR\"; exit 3"))
            .await
            .unwrap();
        let mut out = String::new();
        l.output.read_to_string(&mut out).await.unwrap();
        assert_eq!(out.trim(), format!("hi  {}", dir.path().display()));
        let mut rx = l.process.exited();
        let info = *rx.wait_for(Option::is_some).await.unwrap();
        assert_eq!(info, Some(ExitInfo::Code(3)));
    }

    #[tokio::test]
    async fn stdout_and_stderr_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = ProcessSandbox
            .launch(spec(
                dir.path(),
                "for i in 1 2 3; do echo out $i; echo err $i >&2; done",
            ))
            .await
            .unwrap();
        let mut out = String::new();
        l.output.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "out 1\nerr 1\nout 2\nerr 2\nout 3\nerr 3\n");
    }

    #[tokio::test]
    async fn kill_ends_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let l = ProcessSandbox
            .launch(spec(dir.path(), "sleep 60 & sleep 60"))
            .await
            .unwrap();
        assert!(l.process.peak_memory_bytes().is_some());
        l.process.kill();
        let mut rx = l.process.exited();
        let info = *rx.wait_for(Option::is_some).await.unwrap();
        assert_eq!(info, Some(ExitInfo::Signal(libc::SIGKILL)));
    }

    #[tokio::test]
    async fn missing_program_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), "");
        s.program = dir.path().join("nope");
        assert!(matches!(
            ProcessSandbox.launch(s).await,
            Err(SandboxError::Spawn { .. })
        ));
    }
}
