//! The managed runtimes a bench measures: which runtime a label such as
//! `python3.x` stands for on this node (`GET /ignis/v1/runtimes`), a tiny
//! echo handler for each language written at run time, the memory its
//! function gets, and the interpreter start-up that is its floor.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ignis_client::Client;
use ignis_model::runtime::RuntimeInfo;

use crate::server::zip_bootstrap;
use crate::startup::floor_command;

/// The runtimes measured, as labels: `python3.x` and `ruby3.x` pick a
/// version ([`pick`]), the others are identifiers.
pub const LABELS: [&str; 5] = [
    "provided.al2023",
    "python3.x",
    "nodejs20.x",
    "ruby3.x",
    "java17",
];
/// MemorySize of a managed runtime's echo function, MB.
pub const MEMORY_MB: i64 = 256;
/// MemorySize of the Java echo function (the JVM wants more), MB.
pub const JAVA_MEMORY_MB: i64 = 512;
/// How long to wait for the Java client to be compiled by the server.
pub const JAVA_WAIT: Duration = Duration::from_secs(150);

/// A runtime's echo function: what CreateFunction needs.
#[derive(Debug, Clone)]
pub struct EchoFunction {
    /// The runtime identifier the function is created with.
    pub runtime: String,
    /// What the runtimes endpoint says runs it.
    pub runs_on: String,
    /// Handler setting.
    pub handler: String,
    /// The deployment package.
    pub zip: Vec<u8>,
    /// Function memory, MB.
    pub memory_mb: i64,
    /// The interpreter the runtimes endpoint names (`None` for
    /// `provided.*`).
    pub interpreter: Option<PathBuf>,
}

impl EchoFunction {
    /// The language: `provided`, `python`, `nodejs`, `ruby` or `java`.
    pub fn language(&self) -> &str {
        language(&self.runtime)
    }

    /// The interpreter doing nothing (`python3 -S -c pass`, ...): program,
    /// arguments and label; `None` for `provided.*`.
    pub fn interpreter_floor(
        &self,
    ) -> anyhow::Result<Option<(PathBuf, Vec<&'static str>, String)>> {
        if self.language() == "provided" {
            return Ok(None);
        }
        let interp = self
            .interpreter
            .clone()
            .context("the runtimes endpoint names no interpreter")?;
        let args = floor_command(self.language())
            .context("no floor command")?
            .to_vec();
        let label = format!("{} {}", file_name(&interp), args.join(" "));
        Ok(Some((interp, args, label)))
    }
}

/// The last component of a path, for labels.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// `python3.13` -> `python`.
pub fn language(runtime: &str) -> &str {
    for lang in ["provided", "python", "nodejs", "ruby", "java"] {
        if runtime.starts_with(lang) {
            return lang;
        }
    }
    runtime
}

/// The runtime a label stands for on this node, or why there is none.
/// `java17` is waited for (bounded by [`JAVA_WAIT`]) when `javac` exists:
/// the server compiles its client in the background at start.
pub async fn resolve(
    client: &Client,
    list: &[RuntimeInfo],
    label: &str,
    progress: impl Fn(std::fmt::Arguments<'_>),
) -> Result<RuntimeInfo, String> {
    let mut info = pick(list, label);
    if label == "java17" && info.is_none() && javac().is_some() {
        progress(format_args!(
            "waiting up to {JAVA_WAIT:?} for java17 (the server compiles its client)"
        ));
        info = wait_for_java(client).await;
    }
    info.ok_or_else(|| {
        list.iter()
            .find(|r| r.runtime.starts_with(label.trim_end_matches(".x")))
            .and_then(|r| r.reason.clone())
            .unwrap_or_else(|| "not available on this node".into())
    })
}

/// The runtime a case label stands for: `python3.x` and `ruby3.x` pick
/// a version, other labels are identifiers.
pub fn pick(list: &[RuntimeInfo], label: &str) -> Option<RuntimeInfo> {
    match label.strip_suffix("x") {
        Some(prefix @ ("python3." | "ruby3.")) => newest_own(list, prefix),
        _ => exact(list, label),
    }
}

/// The runtime `id` if available.
fn exact(list: &[RuntimeInfo], id: &str) -> Option<RuntimeInfo> {
    list.iter()
        .find(|r| r.runtime == id && r.available)
        .cloned()
}

/// The newest available runtime starting with `prefix` that runs on its
/// own version, else the first available one.
fn newest_own(list: &[RuntimeInfo], prefix: &str) -> Option<RuntimeInfo> {
    let available = || {
        list.iter()
            .filter(|r| r.runtime.starts_with(prefix) && r.available)
    };
    available()
        .filter(|r| r.runs_on.as_deref() == Some(r.runtime.as_str()))
        .max_by_key(|r| minor(&r.runtime))
        .or_else(|| available().next())
        .cloned()
}

/// `python3.13` -> 13.
fn minor(runtime: &str) -> u32 {
    runtime
        .rsplit('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Polls the runtimes endpoint until `java17` is available, at most
/// [`JAVA_WAIT`].
async fn wait_for_java(client: &Client) -> Option<RuntimeInfo> {
    let start = Instant::now();
    while start.elapsed() < JAVA_WAIT {
        if let Ok(list) = client.runtimes().await {
            if let Some(info) = exact(&list.runtimes, "java17") {
                return Some(info);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// `javac` next to the JVM's `java`, else on `PATH`.
pub fn javac() -> Option<PathBuf> {
    let works = |p: &Path| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let beside_java = fs::canonicalize("/usr/bin/java")
        .ok()
        .and_then(|java| java.parent().map(|d| d.join("javac")));
    beside_java
        .into_iter()
        .chain([PathBuf::from("javac")])
        .find(|p| works(p))
}

/// Writes the runtime's echo handler and zips it; `bootstrap` is the
/// `provided.*` echo binary.
pub fn echo_function(
    info: &RuntimeInfo,
    bootstrap: &Path,
    scratch: &Path,
) -> anyhow::Result<EchoFunction> {
    let (handler, zip, memory_mb) = match language(&info.runtime) {
        "provided" => (
            "bootstrap".to_string(),
            zip_bootstrap(bootstrap, scratch)?,
            MEMORY_MB,
        ),
        "python" => (
            "handler.main".into(),
            crate::server::zip_files(&[(
                "handler.py",
                b"def main(event, context):\n    return event\n",
                0o644,
            )])?,
            MEMORY_MB,
        ),
        "nodejs" => (
            "index.handler".into(),
            crate::server::zip_files(&[(
                "index.mjs",
                b"export const handler = async (e) => e;\n",
                0o644,
            )])?,
            MEMORY_MB,
        ),
        "ruby" => (
            "lambda_function.lambda_handler".into(),
            crate::server::zip_files(&[(
                "lambda_function.rb",
                b"def lambda_handler(event:, context:)\n  event\nend\n",
                0o644,
            )])?,
            MEMORY_MB,
        ),
        "java" => (
            "bench.Echo::handle".into(),
            java_zip(scratch)?,
            JAVA_MEMORY_MB,
        ),
        other => bail!("no echo handler for {other}"),
    };
    Ok(EchoFunction {
        runtime: info.runtime.clone(),
        runs_on: info.runs_on.clone().unwrap_or_else(|| info.runtime.clone()),
        handler,
        zip,
        memory_mb,
        interpreter: info.interpreter.as_ref().map(PathBuf::from),
    })
}

/// Compiles the Java echo handler with `javac --release 17` and zips its
/// class.
fn java_zip(scratch: &Path) -> anyhow::Result<Vec<u8>> {
    let javac = javac().context("javac is not installed (a JDK, e.g. default-jdk-headless)")?;
    let src = scratch.join("java-src/bench/Echo.java");
    fs::create_dir_all(src.parent().unwrap_or(scratch))?;
    fs::write(
        &src,
        "package bench;\n\nimport java.util.Map;\n\npublic class Echo {\n    public Map<String, Object> handle(Map<String, Object> event) {\n        return event;\n    }\n}\n",
    )?;
    let classes = scratch.join("java-classes");
    let status = Command::new(&javac)
        .arg("--release")
        .arg("17")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .with_context(|| format!("run {}", javac.display()))?;
    anyhow::ensure!(status.success(), "javac failed: {status}");
    let class = fs::read(classes.join("bench/Echo.class"))?;
    crate::server::zip_files(&[("bench/Echo.class", &class, 0o644)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(runtime: &str, runs_on: &str, available: bool) -> RuntimeInfo {
        RuntimeInfo {
            runtime: runtime.into(),
            available,
            runs_on: Some(runs_on.into()),
            interpreter: None,
            reason: None,
        }
    }

    #[test]
    fn labels_pick_the_newest_version_running_on_itself() {
        let list = [
            info("python3.11", "python3.11", true),
            info("python3.12", "python3.12", true),
            info("python3.13", "python3.12", true),
            info("nodejs20.x", "nodejs20.x", false),
        ];
        assert_eq!(pick(&list, "python3.x").unwrap().runtime, "python3.12");
        assert!(pick(&list, "nodejs20.x").is_none());
        assert_eq!(language("nodejs20.x"), "nodejs");
        assert_eq!(language("provided.al2023"), "provided");
    }
}
