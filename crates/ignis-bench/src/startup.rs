//! Process start floors for the `runtimes` benchmark: how long an
//! interpreter takes to start and exit doing nothing (`python3 -S -c pass`,
//! `node -e 0`, ...), and fork+exec of `/bin/true`, timed from spawn to
//! reaped exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Runs `program args` `runs` times one after another (after one untimed
/// run that warms the page cache), stdio to `/dev/null`, and returns the
/// wall time of each run from spawn to reaped exit. A non-zero exit fails.
pub fn time_runs(program: &Path, args: &[&str], runs: usize) -> anyhow::Result<Vec<Duration>> {
    time_once(program, args)?;
    (0..runs).map(|_| time_once(program, args)).collect()
}

/// One run of `program args`, stdio to `/dev/null`: the wall time from
/// spawn to reaped exit. A non-zero exit fails.
pub fn time_once(program: &Path, args: &[&str]) -> anyhow::Result<Duration> {
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
}

/// A statically linked program that does nothing, for the fork+exec
/// floor: `fn main() {}` compiled by `rustc -O -C
/// target-feature=+crt-static -C relocation-model=static` (not PIE) into
/// `dir`; checked to have no program
/// interpreter. Returns its path and how it was made.
pub fn static_noop(dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    let src = dir.join("noop.rs");
    let bin = dir.join("noop-static");
    std::fs::write(&src, "fn main() {}\n")?;
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args([
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&bin)
        .arg(&src)
        .output()
        .context("run rustc")?;
    if !out.status.success() {
        bail!("rustc failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    anyhow::ensure!(
        is_static(&bin)?,
        "{} has a program interpreter",
        bin.display()
    );
    Ok((
        bin,
        "fn main() {} (rustc -O -C target-feature=+crt-static -C relocation-model=static: static, not PIE, no program interpreter)".into(),
    ))
}

/// Whether the ELF64 file at `path` is statically linked: no `PT_INTERP`
/// program header.
pub fn is_static(path: &Path) -> anyhow::Result<bool> {
    let elf = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    anyhow::ensure!(
        elf.len() >= 64 && elf.starts_with(b"\x7fELF") && elf[4] == 2,
        "{} is not an ELF64 file",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&elf[0x20..0x28]);
    let (phoff, size, count) = (
        u64::from_le_bytes(phoff) as usize,
        u16_at(0x36),
        u16_at(0x38),
    );
    const PT_INTERP: u32 = 3;
    let interp = (0..count).any(|i| {
        let at = phoff + i * size;
        elf.get(at..at + 4)
            .is_some_and(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) == PT_INTERP)
    });
    Ok(!interp)
}

/// Python started with its `site` module (`python3 -c pass`), next to the
/// `-S` floor of [`floor_command`].
pub const PYTHON_WITH_SITE: &[&str] = &["-c", "pass"];

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

    #[test]
    fn tells_static_from_dynamic() {
        // `true` is dynamically linked on every distribution this runs on.
        assert!(!is_static(Path::new("/bin/true")).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let (noop, _) = static_noop(dir.path()).unwrap();
        assert!(is_static(&noop).unwrap());
        assert_eq!(time_runs(&noop, &[], 1).unwrap().len(), 1);
    }
}
