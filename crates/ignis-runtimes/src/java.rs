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
        "src/ignis/runtime/Held.java",
        include_str!("../../../runtimes/java/src/ignis/runtime/Held.java"),
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

/// The variable the `java` launcher reads options from, besides its
/// command line: a held JVM's options (`Held.java`).
pub const LAUNCHER_OPTIONS: &str = "JDK_JAVA_OPTIONS";

/// The options of a JVM started held, for [`LAUNCHER_OPTIONS`]: the
/// property that tells the client (`ignis.held`) and the foreign function
/// API it completes its process with once specialized (`setenv`, `chdir`,
/// `dup2`): JDK 17's incubator module, the final API from JDK 22. `None`
/// for the JDKs between (other incubator and preview APIs): never held.
pub fn held_options(feature: u32) -> Option<String> {
    const COMMON: &str = "--enable-native-access=ALL-UNNAMED -Dignis.held=1";
    match feature {
        17 => Some(format!("--add-modules=jdk.incubator.foreign {COMMON}")),
        f if f >= 22 => Some(COMMON.to_string()),
        _ => None,
    }
}

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

/// What the classes directory holds besides the classes, hashed with the
/// sources: a new layout gets a directory of its own. (2: the jar and the
/// settings file, compiled in a directory of the process's own; directories
/// an earlier layout's racing compiles left without some classes are never
/// used again.)
const LAYOUT: &str = "2";

/// Compiles the client with the `javac` beside `java` into
/// `<dir>/java/classes-<hash>`, unless it is there already.
pub fn compile(java: &Path, dir: &Path) -> Result<PathBuf, String> {
    let mut hasher = DefaultHasher::new();
    SOURCES.hash(&mut hasher);
    LAYOUT.hash(&mut hasher);
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
    // Sources and classes in a directory of this process's own: servers
    // sharing the cache may compile at the same time (a shared one let one
    // compile read a source the other was rewriting, and install classes
    // without it, for good).
    static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let work = dir.join(format!("java/build-{}-{n}", std::process::id()));
    remove_abandoned_builds(&dir.join("java"));
    let _ = std::fs::remove_dir_all(&work);
    let result = compile_in(&real, &javac, &work, &classes);
    let _ = std::fs::remove_dir_all(&work);
    result?;
    Ok(classes)
}

/// Removes the build directories (`build-<pid>-<n>`) of processes that no
/// longer run: a server killed while compiling leaves its own behind.
fn remove_abandoned_builds(java_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(java_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("build-"))
            .and_then(|rest| rest.split_once('-'))
            .map(|(pid, _)| pid);
        if let Some(pid) = pid.filter(|p| p.parse::<u32>().is_ok()) {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Compiles into `work` and renames the classes to `classes`.
fn compile_in(java: &Path, javac: &Path, work: &Path, classes: &Path) -> Result<(), String> {
    let src = work.join("src");
    let mut files = Vec::new();
    for (rel, text) in SOURCES {
        let path = src.join(rel.trim_start_matches("src/"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("failed to write sources: {e}"))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("failed to write sources: {e}"))?;
        files.push(path);
    }
    let staging = work.join("classes");
    let out = Command::new(javac)
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
    pack(java, &staging)?;
    std::fs::write(staging.join(FLAGS), DEFAULT_FLAGS)
        .map_err(|e| format!("failed to write {FLAGS}: {e}"))?;
    std::fs::rename(&staging, classes).or_else(|e| {
        // Another server compiled it at the same time.
        if classes.join(JAR).is_file() {
            Ok(())
        } else {
            Err(format!("failed to install the classes: {e}"))
        }
    })
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
    fn jdks_with_a_foreign_function_api_the_client_knows_are_held() {
        let options = |f| held_options(f).unwrap_or_default();
        assert!(options(17).contains("--add-modules=jdk.incubator.foreign"));
        for f in [17, 22, 25] {
            assert!(options(f).contains("--enable-native-access=ALL-UNNAMED -Dignis.held=1"));
        }
        assert!(!options(25).contains("incubator"));
        for f in [8, 11, 18, 21] {
            assert_eq!(held_options(f), None, "JDK {f}");
        }
    }

    #[test]
    fn compiles_at_the_same_time_install_the_whole_client() {
        let Some(java) =
            crate::discovery::find(&[], &crate::discovery::search_dirs(Path::new("/")))
                .into_iter()
                .filter(|i| i.language == crate::discovery::Language::Java)
                .max_by_key(|i| i.version)
                .filter(|i| {
                    std::fs::canonicalize(&i.path)
                        .is_ok_and(|p| p.with_file_name("javac").is_file())
                })
        else {
            eprintln!("skipped: no JDK with javac");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| compile(&java.path, dir.path())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let classes = results[0].clone().unwrap();
        for r in &results {
            assert_eq!(r.as_ref(), Ok(&classes));
        }
        let listing = Command::new(java.path.with_file_name("jar"))
            .arg("--list")
            .arg("--file")
            .arg(classes.join(JAR))
            .output();
        // The jar tool beside a `java` link may not be there; the
        // directory's classes tell as much.
        let names: Vec<String> = match listing {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        for (rel, _) in SOURCES {
            let class = rel.trim_start_matches("src/").replace(".java", ".class");
            assert!(classes.join(&class).is_file(), "{class} missing");
            if !names.is_empty() && class.starts_with("ignis/runtime/") {
                assert!(names.contains(&class), "{class} not in the jar");
            }
        }
        assert!(!names.iter().any(|n| n.starts_with("ignis/training/")));
        assert_eq!(
            std::fs::read_to_string(classes.join(FLAGS)).unwrap(),
            DEFAULT_FLAGS
        );
        // Nothing of the builds is left.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("java"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, [classes.file_name().unwrap().to_string_lossy()]);
    }

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

    #[test]
    fn builds_of_processes_that_no_longer_run_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join(format!("build-{}-0", std::process::id()));
        // Past the kernel's largest pid: no process has it.
        let gone = dir.path().join("build-4194305-0");
        let other = dir.path().join("classes-0123");
        for d in [&ours, &gone, &other] {
            std::fs::create_dir_all(d.join("src")).unwrap();
        }
        super::remove_abandoned_builds(dir.path());
        assert!(ours.is_dir() && other.is_dir());
        assert!(!gone.exists());
    }
}
