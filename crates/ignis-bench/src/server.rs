//! The system under test: the release `ignis` binary as a child process on
//! `127.0.0.1:0` with a temporary data dir, and the `lambda_runtime` echo
//! function deployed to it through `ignis-client`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use ignis_client::{Client, CreateFunction, UpdateFunctionConfiguration};
use ignis_model::wire::Environment;
use ignis_model::{FunctionState, LastUpdateStatus};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::cpu;

/// How long the server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new function may stay `Pending`.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped server gets before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The line `ignis serve` prints once it listens.
const LISTENING: &str = "Ignis listening on http://";
/// The line `ignis serve` prints before it, naming the sandbox backend.
const SANDBOX: &str = "sandbox: ";

/// The workspace root (this crate lives in `crates/ignis-bench`).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Cargo's target dir: `CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// What CreateFunction is given besides the name.
#[derive(Debug, Clone, Copy)]
pub struct Package<'a> {
    /// The deployment zip.
    pub zip: &'a [u8],
    /// The runtime identifier.
    pub runtime: &'a str,
    /// The handler setting.
    pub handler: &'a str,
    /// MemorySize, MB.
    pub memory_mb: i64,
}

/// A running `ignis serve`; killed on drop if not stopped.
pub struct IgnisProcess {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
    sandbox: String,
}

impl IgnisProcess {
    /// Starts `bin serve` on an ephemeral port with a fresh data dir and
    /// waits for its `Ignis listening on` line.
    pub fn start(bin: &Path, memory_budget_mb: u64) -> anyhow::Result<Self> {
        Self::start_with(bin, memory_budget_mb, &[])
    }

    /// [`start`](Self::start) with more `ignis serve` arguments (e.g.
    /// `--sandbox=namespace`).
    pub fn start_with(bin: &Path, memory_budget_mb: u64, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_env(bin, memory_budget_mb, args, &[])
    }

    /// [`start_with`](Self::start_with) with variables added to the
    /// server's environment (e.g. `IGNIS_PREWARM=off`).
    pub fn start_env(
        bin: &Path,
        memory_budget_mb: u64,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        if !bin.is_file() {
            bail!(
                "no ignis binary at {} (build it with `cargo build --release -p ignis -p ignis-fixture-echo` or set IGNIS_BIN)",
                bin.display()
            );
        }
        let dir = tempfile::Builder::new().prefix("ignis-bench-").tempdir()?;
        let stderr = fs::File::create(dir.path().join("server.stderr"))?;
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--listen=127.0.0.1:0")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--memory-budget-mb={memory_budget_mb}"))
            .arg("--shutdown-grace-secs=5")
            .args(args)
            .env_remove("IGNIS_LISTEN")
            .env_remove("IGNIS_DATA_DIR")
            .env_remove("IGNIS_MEMORY_BUDGET_MB")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = mpsc::channel();
        // Reads the address, then keeps draining stdout so the server never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sandbox = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with(SANDBOX) {
                    sandbox = line.trim().to_string();
                }
                if let Some(rest) = line.trim().strip_prefix(LISTENING) {
                    let _ = tx.send((rest.trim_end_matches('/').to_string(), sandbox.clone()));
                }
            }
        });
        let mut process = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
            sandbox: String::new(),
        };
        let (addr, sandbox) = rx.recv_timeout(START_TIMEOUT).map_err(|_| {
            anyhow!(
                "ignis did not print its address; stderr:\n{}",
                process.stderr_tail()
            )
        })?;
        process.addr = addr
            .parse()
            .with_context(|| format!("address {addr:?} printed by ignis"))?;
        process.sandbox = sandbox;
        Ok(process)
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The line naming its sandbox backend and why (`sandbox: namespace
    /// (running as root; cgroup v1)`), empty if it printed none.
    pub fn sandbox(&self) -> &str {
        &self.sandbox
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the server wrote to stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("server.stderr")).unwrap_or_default();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A management client for this server.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.endpoint())?)
    }

    /// Zips `bootstrap` (mode 0755), creates function `name` from it
    /// (`provided.al2023`, 128 MB) and waits until it is `Active`.
    pub async fn deploy(&self, name: &str, bootstrap: &Path, memory_mb: i64) -> anyhow::Result<()> {
        let zip = zip_bootstrap(bootstrap, self.dir.path())?;
        self.deploy_zip(name, &zip, "provided.al2023", "bootstrap", memory_mb)
            .await
    }

    /// Creates function `name` from the bytes of a zip with the given
    /// runtime, handler and memory (timeout 30 s) and waits until it is
    /// `Active`.
    pub async fn deploy_zip(
        &self,
        name: &str,
        zip: &[u8],
        runtime: &str,
        handler: &str,
        memory_mb: i64,
    ) -> anyhow::Result<()> {
        let package = Package {
            zip,
            runtime,
            handler,
            memory_mb,
        };
        self.create(name, &package).await?;
        self.wait_active(name).await
    }

    /// Creates function `name` from `package` (timeout 30 s) without
    /// waiting for it to become `Active`.
    pub async fn create(&self, name: &str, package: &Package<'_>) -> anyhow::Result<()> {
        let client = self.client()?;
        let mut req =
            CreateFunction::new(name, "arn:aws:iam::000000000000:role/bench", package.zip);
        req.runtime = Some(package.runtime.into());
        req.handler = Some(package.handler.into());
        req.memory_size = Some(package.memory_mb);
        req.timeout = Some(30);
        client.create_function(&req).await?;
        Ok(())
    }

    /// Waits until function `name` is `Active` (fails when it is `Failed`
    /// or still `Pending` after a minute).
    pub async fn wait_active(&self, name: &str) -> anyhow::Result<()> {
        let client = self.client()?;
        let start = Instant::now();
        loop {
            let conf = client.get_function(name).await?.configuration;
            match conf.state {
                FunctionState::Active => return Ok(()),
                FunctionState::Failed => {
                    bail!("function {name} failed: {:?}", conf.state_reason)
                }
                FunctionState::Pending if start.elapsed() > ACTIVE_TIMEOUT => {
                    bail!("function {name} still Pending after {ACTIVE_TIMEOUT:?}")
                }
                FunctionState::Pending => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Sets the environment of function `name` to the single variable
    /// `key=value` (UpdateFunctionConfiguration; the server then retires
    /// the function's environments) and waits for `LastUpdateStatus:
    /// Successful`.
    pub async fn set_env(&self, name: &str, key: &str, value: &str) -> anyhow::Result<()> {
        let client = self.client()?;
        let req = UpdateFunctionConfiguration {
            environment: Some(Environment {
                variables: [(key.to_string(), value.to_string())].into(),
            }),
            ..Default::default()
        };
        let mut conf = client.update_function_configuration(name, &req).await?;
        let start = Instant::now();
        loop {
            match conf.last_update_status {
                LastUpdateStatus::Successful => return Ok(()),
                LastUpdateStatus::Failed => {
                    bail!(
                        "update of {name} failed: {:?}",
                        conf.last_update_status_reason
                    )
                }
                LastUpdateStatus::InProgress if start.elapsed() > ACTIVE_TIMEOUT => {
                    bail!("update of {name} still InProgress after {ACTIVE_TIMEOUT:?}")
                }
                LastUpdateStatus::InProgress => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    conf = client.get_function(name).await?.configuration;
                }
            }
        }
    }

    /// How many processes named `bootstrap` run below the server: its
    /// execution environments.
    pub fn environments(&self) -> usize {
        descendants_named(self.child.id(), "bootstrap").len()
    }

    /// CPU nanoseconds used so far by the server and by its environments.
    pub fn cpu_ns(&self) -> (u64, u64) {
        let server = cpu::process_ns(self.child.id());
        let envs = descendants_named(self.child.id(), "bootstrap")
            .into_iter()
            .map(cpu::process_ns)
            .sum();
        (server, envs)
    }

    /// CPU nanoseconds used so far by the server and by every process
    /// below it (its environments, whatever their runtime, and the
    /// zygote, idle between launches).
    pub fn cpu_ns_all(&self) -> (u64, u64) {
        let server = cpu::process_ns(self.child.id());
        let below = descendants(self.child.id())
            .into_iter()
            .map(cpu::process_ns)
            .sum();
        (server, below)
    }

    /// Waits (blocking, at most `max`) until the server and everything
    /// below it are idle: under 5 % of a CPU in each of five 20 ms windows
    /// in a row. Work a cold start left behind (a pool starting another
    /// environment, which may begin a few milliseconds after the answer)
    /// then does not slow what is measured next. Says whether they became
    /// idle.
    pub fn wait_idle(&self, max: Duration) -> bool {
        const WINDOW: Duration = Duration::from_millis(20);
        const QUIET_WINDOWS: u32 = 5;
        let used = || {
            let (server, below) = self.cpu_ns_all();
            server + below
        };
        let start = Instant::now();
        let (mut before, mut quiet) = (used(), 0);
        while start.elapsed() < max {
            std::thread::sleep(WINDOW);
            let now = used();
            if now.saturating_sub(before) < WINDOW.as_nanos() as u64 / 20 {
                quiet += 1;
                if quiet == QUIET_WINDOWS {
                    return true;
                }
            } else {
                quiet = 0;
            }
            before = now;
        }
        false
    }

    /// The server's peak resident memory (`VmHWM`), KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        status_kib(self.child.id(), "VmHWM")
    }

    /// The server's resident memory now (`VmRSS`), KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        status_kib(self.child.id(), "VmRSS")
    }

    /// Stops the server with SIGTERM (SIGKILL after a grace period).
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < STOP_TIMEOUT {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("ignis did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed")
    }
}

impl Drop for IgnisProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The deployment package: `bootstrap` with mode 0755, stripped of debug
/// info first when `strip` is installed (as cargo-lambda ships it).
pub fn zip_bootstrap(bootstrap: &Path, scratch: &Path) -> anyhow::Result<Vec<u8>> {
    if !bootstrap.is_file() {
        bail!(
            "no echo bootstrap at {} (build it with `cargo build --release -p ignis-fixture-echo` or set IGNIS_ECHO_BOOTSTRAP)",
            bootstrap.display()
        );
    }
    let stripped = scratch.join("bootstrap.stripped");
    let stripped_ok = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(bootstrap)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let code = fs::read(if stripped_ok { &stripped } else { bootstrap })
        .with_context(|| format!("read {}", bootstrap.display()))?;
    zip_files(&[("bootstrap", &code, 0o755)])
}

/// A deployment zip of `(path, contents, unix mode)` entries, deflated.
pub fn zip_files(files: &[(&str, &[u8], u32)]) -> anyhow::Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (path, contents, mode) in files {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(*mode);
        zip.start_file(*path, options)?;
        zip.write_all(contents)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Every process below `root` (children, their children, ...).
pub fn descendants(root: u32) -> Vec<u32> {
    below(root, |_| true)
}

/// The processes below `root` whose command name is `name`.
fn descendants_named(root: u32, name: &str) -> Vec<u32> {
    below(root, |comm| comm == name)
}

/// The processes below `root` whose command name passes `keep`.
fn below(root: u32, keep: impl Fn(&str) -> bool) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    // pid -> (parent pid, command name)
    let mut procs: HashMap<u32, (u32, String)> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(parsed) = parse_stat(&stat) {
            procs.insert(pid, parsed);
        }
    }
    procs
        .iter()
        .filter(|(_, (_, comm))| keep(comm))
        .filter(|(&pid, _)| {
            let mut cur = pid;
            // Walks up to init; bounded in case of a cycle from a pid race.
            for _ in 0..64 {
                match procs.get(&cur) {
                    Some(&(ppid, _)) if ppid == root => return true,
                    Some(&(ppid, _)) if ppid > 1 => cur = ppid,
                    _ => return false,
                }
            }
            false
        })
        .map(|(&pid, _)| pid)
        .collect()
}

/// (ppid, comm) of a `/proc/<pid>/stat` line: `pid (comm) state ppid ...`.
fn parse_stat(stat: &str) -> Option<(u32, String)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let ppid = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ppid, comm))
}

#[cfg(test)]
mod tests {
    use super::parse_stat;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        let stat = "4242 (boot (strap) x) S 17 4242 4242 0 -1 4194560";
        assert_eq!(parse_stat(stat), Some((17, "boot (strap) x".into())));
    }

    #[test]
    fn descendants_of_this_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = super::descendants_named(std::process::id(), "sleep");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!found.is_empty());
    }
}
