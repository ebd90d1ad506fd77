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
    (
        "src/ignis/training/Training.java",
        include_str!("../../../runtimes/java/src/ignis/training/Training.java"),
    ),
];

/// The main class.
pub const MAIN_CLASS: &str = "ignis.runtime.Bootstrap";

/// The client's classes packed in one uncompressed jar, beside them: class
/// data sharing archives classes from jars only.
pub const JAR: &str = "ignis-runtime.jar";

/// The JVM's default options, as a `-XX:Flags=` settings file beside the
/// classes: a settings file is read before `JAVA_TOOL_OPTIONS`, so the
/// function's own options win over these defaults, as on Lambda (its java17
/// and java21 runtimes stop tiered compilation at C1 by default, and a
/// function may set `-XX:TieredStopAtLevel=4` through `JAVA_TOOL_OPTIONS`).
/// Options on the command line would win over the function's instead.
pub const FLAGS: &str = "jvm.flags";

/// The defaults [`FLAGS`] holds, one `-XX` option a line without its `-XX:`.
pub const DEFAULT_FLAGS: &str = "+TieredCompilation\nTieredStopAtLevel=1\n";

/// Compiles the client with the `javac` beside `java` into
/// `<dir>/java/classes-<hash>`, unless it is there already.
pub fn compile(java: &Path, dir: &Path) -> Result<PathBuf, String> {
    let mut hasher = DefaultHasher::new();
    SOURCES.hash(&mut hasher);
    let classes = dir.join(format!("java/classes-{:016x}", hasher.finish()));
    if classes.join(JAR).is_file() {
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
    pack(&real, &staging)?;
    std::fs::write(staging.join(FLAGS), DEFAULT_FLAGS)
        .map_err(|e| format!("failed to write {FLAGS}: {e}"))?;
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

/// Packs the client's classes under `dir` (`ignis/runtime`, not the
/// training handler) into `dir/`[`JAR`] with the `jar` tool beside `java`
/// (stored, not compressed: nothing to inflate at start-up).
fn pack(java: &Path, dir: &Path) -> Result<(), String> {
    let jar = java.with_file_name("jar");
    let out = Command::new(&jar)
        .args(["--create", "--no-compress", "--file"])
        .arg(dir.join(JAR))
        .arg("-C")
        .arg(dir)
        .arg("ignis/runtime")
        .output()
        .map_err(|e| format!("failed to run {}: {e}", jar.display()))?;
    if !out.status.success() {
        return Err(format!(
            "jar failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
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
