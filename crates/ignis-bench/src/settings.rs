//! Knobs every bench reads from the environment: which binaries to measure,
//! counts, and where a run is stored.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;

use crate::server::{target_dir, workspace_root};

/// The path in `var`, or `default` when it is unset or empty.
pub fn path(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map_or(default, PathBuf::from)
}

/// `IGNIS_BIN`, else the release `ignis` in cargo's target dir.
pub fn ignis_bin() -> PathBuf {
    path("IGNIS_BIN", target_dir().join("release/ignis"))
}

/// `IGNIS_ECHO_BOOTSTRAP`, else the release `lambda_runtime` echo.
pub fn echo_bootstrap() -> PathBuf {
    path(
        "IGNIS_ECHO_BOOTSTRAP",
        target_dir().join("release/bootstrap"),
    )
}

/// `IGNIS_MIN_ECHO_BOOTSTRAP`, else the release minimal-client echo
/// (`fixtures/functions/rust-min-echo`); `None` when the default is not
/// built (a path set explicitly must exist).
pub fn min_echo_bootstrap() -> anyhow::Result<Option<PathBuf>> {
    let default = target_dir().join("release/min-echo");
    let path = path("IGNIS_MIN_ECHO_BOOTSTRAP", default.clone());
    if path.exists() {
        Ok(Some(path))
    } else if path == default {
        Ok(None)
    } else {
        anyhow::bail!("IGNIS_MIN_ECHO_BOOTSTRAP={} does not exist", path.display())
    }
}

/// A positive number from `var`, `default` when it is unset.
pub fn positive<T>(var: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr + PartialOrd + Default,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let Ok(raw) = std::env::var(var) else {
        return Ok(default);
    };
    let value: T = raw.parse().with_context(|| format!("{var}={raw:?}"))?;
    anyhow::ensure!(value > T::default(), "{var} must be positive");
    Ok(value)
}

/// Where runs are appended (`IGNIS_BENCH_RUNS_DIR`, else
/// `<workspace>/benches/runs`); `None` with `IGNIS_BENCH_SAVE=0`.
pub fn runs_dir() -> Option<PathBuf> {
    let save = std::env::var("IGNIS_BENCH_SAVE").map_or(true, |v| v != "0");
    save.then(|| {
        path(
            "IGNIS_BENCH_RUNS_DIR",
            workspace_root().join("benches/runs"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_parse_and_be_positive() {
        assert_eq!(positive("IGNIS_BENCH_TEST_UNSET_VAR", 7usize).unwrap(), 7);
        std::env::set_var("IGNIS_BENCH_TEST_ZERO", "0");
        assert!(positive("IGNIS_BENCH_TEST_ZERO", 1usize).is_err());
        std::env::set_var("IGNIS_BENCH_TEST_BAD", "x");
        assert!(positive("IGNIS_BENCH_TEST_BAD", 1.0f64).is_err());
        std::env::set_var("IGNIS_BENCH_TEST_OK", "2.5");
        assert_eq!(positive("IGNIS_BENCH_TEST_OK", 1.0f64).unwrap(), 2.5);
    }
}
