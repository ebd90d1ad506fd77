//! Process start floors for the `runtimes` benchmark: how long an
//! interpreter takes to start and exit doing nothing (`python3 -S -c pass`,
//! `node -e 0`, ...), and fork+exec of `/bin/true`, timed from spawn to
//! reaped exit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Runs `program args` `runs` times one after another (after one untimed
/// run that warms the page cache), stdio to `/dev/null`, and returns the
/// wall time of each run from spawn to reaped exit. A non-zero exit fails.
pub fn time_runs(program: &Path, args: &[&str], runs: usize) -> anyhow::Result<Vec<Duration>> {
    let run = || -> anyhow::Result<Duration> {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("run {}", program.display()))?;
        let took = start.elapsed();
        if !status.success() {
            bail!("{} {args:?} exited with {status}", program.display());
        }
        Ok(took)
    };
    run()?;
    (0..runs).map(|_| run()).collect()
}

/// The command line whose start-up is the floor of a runtime's cold start:
/// the same interpreter doing nothing. `None` for a language without one.
pub fn floor_command(language: &str) -> Option<&'static [&'static str]> {
    Some(match language {
        // -S: no site-packages, as the runtime runs it.
        "python" => &["-S", "-c", "pass"],
        "nodejs" => &["-e", "0"],
        "ruby" => &["-e", "0"],
        "java" => &["-version"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_true_and_fails_false() {
        let runs = time_runs(Path::new("/bin/true"), &[], 3).unwrap();
        assert_eq!(runs.len(), 3);
        assert!(time_runs(Path::new("/bin/false"), &[], 1).is_err());
    }
}
