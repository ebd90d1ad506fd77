//! The Java runtime client: Java sources shipped in the binary, compiled
//! with the JDK's `javac` (seconds: in the background at start-up, once per
//! machine) into a cache directory named by the sources' hash, reused by
//! every later start.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The client's sources, relative to `runtimes/java/` (as `sources.txt`).
pub const SOURCES: &[(&str, &str)] = &[
    (
        "src/ignis/runtime/Json.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/Json.java"),
    ),
    (
        "src/ignis/runtime/Mapper.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/Mapper.java"),
    ),
    (
        "src/ignis/runtime/Logger.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/Logger.java"),
    ),
    (
        "src/ignis/runtime/IgnisContext.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/IgnisContext.java"),
    ),
    (
        "src/ignis/runtime/RuntimeApi.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/RuntimeApi.java"),
    ),
    (
        "src/ignis/runtime/Bootstrap.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/Bootstrap.java"),
    ),
];

/// The main class.
pub const MAIN_CLASS: &str = "ignis.runtime.Bootstrap";

/// Compiles the client with the `javac` beside `java` into
/// `<dir>/java/classes-<hash>`, unless it is there already.
pub fn compile(java: &Path, dir: &Path) -> Result<PathBuf, String> {
    let mut hasher = DefaultHasher::new();
    SOURCES.hash(&mut hasher);
    let classes = dir.join(format!("java/classes-{:016x}", hasher.finish()));
    if classes.join("ignis/runtime/Bootstrap.class").is_file() {
        return Ok(classes);
    }
    let real = std::fs::canonicalize(java)
        .map_err(|e| format!("failed to resolve {}: {e}", java.display()))?;
    let javac = real.with_file_name("javac");
    if !javac.is_file() {
        return Err(format!(
            "no javac beside {} (install a JDK, e.g. default-jdk-headless)",
            real.display()
        ));
    }
    let src = dir.join("java/src");
    let mut files = Vec::new();
    for (rel, text) in SOURCES {
        let path = src.join(rel.trim_start_matches("src/"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("failed to write sources: {e}"))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("failed to write sources: {e}"))?;
        files.push(path);
    }
    let staging = classes.with_extension("staging");
    let _ = std::fs::remove_dir_all(&staging);
    let out = Command::new(&javac)
        .args(["--release", "17", "-XDstringConcat=inline", "-d"])
        .arg(&staging)
        .args(&files)
        .output()
        .map_err(|e| format!("failed to run {}: {e}", javac.display()))?;
    if !out.status.success() {
        return Err(format!(
            "javac failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&staging, &classes).or_else(|e| {
        // Another server compiled it at the same time.
        if classes.is_dir() {
            Ok(())
        } else {
            Err(format!("failed to install the classes: {e}"))
        }
    })?;
    Ok(classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sources_match_sources_txt() {
        let listed = include_str!("../../../runtimes/java/sources.txt");
        let listed: Vec<&str> = listed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let embedded: Vec<&str> = SOURCES.iter().map(|(p, _)| *p).collect();
        assert_eq!(listed, embedded);
    }
}
