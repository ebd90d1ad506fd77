//! Finding interpreters on the node: `python3.N`, `node`, `ruby` and `java`
//! executables on PATH and in well-known prefixes (pyenv, nvm, /usr/local,
//! /opt, the JDKs under /usr/lib/jvm), never through shims (a pyenv shim
//! costs tens of milliseconds per start); and inside a custom base root of
//! the sandbox (`--sandbox-root`). Each is asked its full version once
//! (a JDK's is read from its `release` file), which the INIT_START line
//! names.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A language Ignis has a runtime client for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// `python3.N`.
    Python,
    /// `nodejsN.x`.
    Node,
    /// `ruby3.N`.
    Ruby,
    /// `javaN`.
    Java,
}

impl Language {
    /// The language's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "Python",
            Self::Node => "Node.js",
            Self::Ruby => "Ruby",
            Self::Java => "Java",
        }
    }

    /// The language and version a runtime identifier names.
    pub fn of(runtime: &str) -> Option<(Self, (u32, u32))> {
        if let Some(v) = runtime.strip_prefix("python") {
            let (major, minor) = v.split_once('.')?;
            return Some((Self::Python, (major.parse().ok()?, minor.parse().ok()?)));
        }
        if let Some(v) = runtime.strip_prefix("ruby") {
            let (major, minor) = v.split_once('.')?;
            return Some((Self::Ruby, (major.parse().ok()?, minor.parse().ok()?)));
        }
        if let Some(v) = runtime.strip_prefix("java") {
            let major = v.split('.').next()?;
            return Some((Self::Java, (major.parse().ok()?, 0)));
        }
        let major = runtime.strip_prefix("nodejs")?.strip_suffix(".x")?;
        Some((Self::Node, (major.parse().ok()?, 0)))
    }

    /// The runtime identifier of `version`.
    pub fn runtime_id(self, version: (u32, u32)) -> String {
        match self {
            Self::Python => format!("python{}.{}", version.0, version.1),
            Self::Node => format!("nodejs{}.x", version.0),
            Self::Ruby => format!("ruby{}.{}", version.0, version.1),
            Self::Java if version.0 == 8 => "java8.al2".to_string(),
            Self::Java => format!("java{}", version.0),
        }
    }

    /// How far `have` is from `want`.
    pub fn distance(self, have: (u32, u32), want: (u32, u32)) -> u32 {
        let key = |v: (u32, u32)| v.0 * 1000 + v.1;
        key(have).abs_diff(key(want))
    }
}

/// An interpreter found on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// Its language.
    pub language: Language,
    /// Major and minor version (Node: major, 0).
    pub version: (u32, u32),
    /// Its executable.
    pub path: PathBuf,
    /// Its full version as it reports it (`20.20.2`, `3.13.5`, `25.0.3`);
    /// [`Interpreter::version_string`] when it could not be asked.
    pub release: String,
}

impl Interpreter {
    /// `3.13` or `20`.
    pub fn version_string(&self) -> String {
        match self.language {
            Language::Python | Language::Ruby => format!("{}.{}", self.version.0, self.version.1),
            Language::Node | Language::Java => self.version.0.to_string(),
        }
    }
}

/// Directories searched, in order: PATH, then well-known prefixes under
/// `root` (`/` but in tests): `/usr/local/bin`, `/usr/bin`, `/bin`,
/// pyenv's and nvm's versions, `/opt/*/bin` and the JDKs' `/usr/lib/jvm/*/bin`.
pub fn search_dirs(root: &Path) -> Vec<PathBuf> {
    let under = |dir: &str| root.join(dir.trim_start_matches('/'));
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(under));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".pyenv")));
    if let Some(root) = pyenv {
        dirs.extend(
            children(&root.join("versions"))
                .into_iter()
                .map(|v| v.join("bin")),
        );
    }
    if let Some(home) = &home {
        dirs.extend(
            children(&home.join(".nvm/versions/node"))
                .into_iter()
                .map(|v| v.join("bin")),
        );
    }
    // A JDK is a directory with `bin/java` (and a `release` file naming
    // its version); `children` of /usr/lib/jvm without one are skipped.
    for parent in ["/opt", "/usr/lib/jvm"] {
        dirs.extend(children(&under(parent)).into_iter().map(|v| v.join("bin")));
    }
    dirs
}

fn children(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Finds interpreters: `overrides` (explicit executables) first, then
/// `python3.N`, `node`, `ruby` and `java` in `dirs`. The first of each
/// language and version wins.
pub fn find(overrides: &[PathBuf], dirs: &[PathBuf]) -> Vec<Interpreter> {
    let mut found = find_unversioned(overrides, dirs);
    ask_releases(&mut found, |i| probe(&i.path, &PYTHON_RELEASE));
    found
}

/// [`find`], Pythons' full versions not asked yet.
fn find_unversioned(overrides: &[PathBuf], dirs: &[PathBuf]) -> Vec<Interpreter> {
    let mut found: Vec<Interpreter> = Vec::new();
    // An executable reached twice (a link, /bin and /usr/bin) is asked once.
    let mut seen_paths = HashSet::new();
    let mut first_sight = |path: &Path| {
        seen_paths.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    };
    let add = |i: Interpreter, found: &mut Vec<Interpreter>| {
        if !found
            .iter()
            .any(|f| f.language == i.language && f.version == i.version)
        {
            found.push(i);
        }
    };
    for path in overrides {
        if !first_sight(path) {
            continue;
        }
        if let Some(i) = identify(path) {
            add(i, &mut found);
        } else {
            tracing::warn!(path = %path.display(), "runtime override is not a python3.N, node, ruby or java executable");
        }
    }
    for dir in dirs
        .iter()
        .filter(|d| !d.components().any(|c| c.as_os_str() == "shims"))
    {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if (python_version(name).is_some()
                || matches!(name, "node" | "java")
                || is_ruby_name(name))
                && is_executable(&path)
                && first_sight(&path)
            {
                if let Some(i) = identify(&path) {
                    add(i, &mut found);
                }
            }
        }
    }
    found
}

/// Directories of a custom base root searched for interpreters, as the
/// function sees them.
pub const ROOT_DIRS: [&str; 2] = ["/usr/local/bin", "/usr/bin"];

/// Interpreters inside the root file system `root` (the sandbox's
/// `--sandbox-root`): `python3.N`, `node` and `ruby` in its [`ROOT_DIRS`],
/// named by the path the function sees (`/usr/bin/python3.9`), since they
/// run there on the root's own libraries. A Python's version is its name;
/// `node` and `ruby` are asked theirs inside the root (`chroot`, once, at
/// start-up). Java is not looked for: its client is compiled with the
/// host's `javac`. A directory that is a link is skipped (it may lead out
/// of the root).
pub fn find_in_root(root: &Path) -> Vec<Interpreter> {
    let mut found: Vec<Interpreter> = Vec::new();
    for dir in ROOT_DIRS {
        let host_dir = root.join(dir.trim_start_matches('/'));
        if !std::fs::symlink_metadata(&host_dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&host_dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let guest = Path::new(dir).join(&name);
            let found_one = if let Some(version) = python_version(&name) {
                is_executable_in(&host_dir.join(&name)).then_some(Interpreter {
                    language: Language::Python,
                    version,
                    path: guest,
                    release: String::new(),
                })
            } else if name == "node" || is_ruby_name(&name) {
                identify_with(&guest, |args| chroot(root, &guest, args))
            } else {
                None
            };
            if let Some(i) = found_one {
                if !found
                    .iter()
                    .any(|f| f.language == i.language && f.version == i.version)
                {
                    found.push(i);
                }
            }
        }
    }
    ask_releases(&mut found, |i| chroot(root, &i.path, &PYTHON_RELEASE));
    found
}

/// How a Python is asked its full version (`3.13.5`): without `site`, as
/// it runs functions.
const PYTHON_RELEASE: [&str; 3] = [
    "-S",
    "-c",
    "import sys; print('%d.%d.%d' % sys.version_info[:3])",
];

/// Asks each interpreter whose full version is not known yet (Pythons,
/// which are found by name) through `ask`, all at once (each start costs
/// milliseconds); one that does not answer keeps its `3.N`.
fn ask_releases(found: &mut [Interpreter], ask: impl Fn(&Interpreter) -> Option<String> + Sync) {
    let ask = &ask;
    std::thread::scope(|scope| {
        for i in found.iter_mut().filter(|i| i.release.is_empty()) {
            scope.spawn(move || {
                i.release = ask(i)
                    .filter(|r| r.starts_with(&i.version_string()))
                    .unwrap_or_else(|| i.version_string());
            });
        }
    });
}

/// The user a version probe inside a custom root runs as: the sandbox's
/// unprivileged function user (`ignis_sandbox::namespace::DEFAULT_UID` /
/// `DEFAULT_GID`), not root — the root may come from an untrusted image.
const PROBE_USER: &str = "993:990";
/// How long a version probe may take before it is killed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `program` (a path inside `root`) with `args` inside `root`, as an
/// unprivileged user, with an empty environment and a time limit; its
/// stdout, when it ran and succeeded.
fn chroot(root: &Path, program: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new("chroot")
        .arg(format!("--userspec={PROBE_USER}"))
        .arg(root)
        .arg(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(program = %program.display(), "a version probe inside the sandbox root did not answer in time");
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An executable file, or a link (resolved inside the root when it runs).
fn is_executable_in(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) || is_executable(path)
}

fn python_version(name: &str) -> Option<(u32, u32)> {
    let (major, minor) = name.strip_prefix("python")?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?)).filter(|v| v.0 == 3)
}

fn is_ruby_name(name: &str) -> bool {
    name == "ruby"
        || name
            .strip_prefix("ruby")
            .is_some_and(|v| v.split('.').all(|p| p.parse::<u32>().is_ok()))
}

/// Asks an interpreter for its version (once per interpreter, at start-up).
fn probe(path: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(path).args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn identify(path: &Path) -> Option<Interpreter> {
    let name = path.file_name()?.to_str()?;
    if name == "java" {
        let release = jdk_release(path).or_else(|| {
            // `java -version` writes `openjdk version "17.0.15" ...` (or
            // "1.8.0_x") to stderr.
            let out = Command::new(path).arg("-version").output().ok()?;
            let text = String::from_utf8_lossy(&out.stderr);
            Some(text.split('"').nth(1)?.to_string())
        })?;
        return Some(Interpreter {
            language: Language::Java,
            version: (java_major(&release)?, 0),
            path: path.to_path_buf(),
            release,
        });
    }
    if is_ruby_name(name) || name == "node" || name.starts_with("node") {
        return identify_with(path, |args| probe(path, args));
    }
    if let Some(version) = python_version(name) {
        return Some(Interpreter {
            language: Language::Python,
            version,
            path: path.to_path_buf(),
            release: String::new(),
        });
    }
    None
}

/// The `JAVA_VERSION` of the JDK (or JRE) whose `bin/java` `java` is,
/// links followed (`/usr/bin/java` is one), from its `release` file:
/// `JAVA_VERSION="25.0.3"`.
fn jdk_release(java: &Path) -> Option<String> {
    let real = std::fs::canonicalize(java).ok()?;
    let home = real.parent()?.parent()?;
    let text = std::fs::read_to_string(home.join("release")).ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix("JAVA_VERSION=")?.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// The major version of a Java version string: `25` of `25.0.3` or `25`,
/// `8` of `1.8.0_442`.
fn java_major(release: &str) -> Option<u32> {
    let mut parts = release.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// A `ruby` or `node` at `path`, its version asked through `ask` (which
/// runs it with the arguments and returns its stdout).
fn identify_with(path: &Path, ask: impl Fn(&[&str]) -> Option<String>) -> Option<Interpreter> {
    let name = path.file_name()?.to_str()?;
    if is_ruby_name(name) {
        let v = ask(&["-e", "print RUBY_VERSION"])?;
        let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
        let version = (parts.next()??, parts.next()??);
        return Some(Interpreter {
            language: Language::Ruby,
            version,
            path: path.to_path_buf(),
            release: v,
        });
    }
    if name == "node" || name.starts_with("node") {
        let text = ask(&["--version"])?;
        let release = text.trim().strip_prefix('v')?;
        let major = release.split('.').next()?.parse().ok()?;
        return Some(Interpreter {
            language: Language::Node,
            version: (major, 0),
            path: path.to_path_buf(),
            release: release.to_string(),
        });
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runtime_ids() {
        assert_eq!(
            Language::of("python3.13"),
            Some((Language::Python, (3, 13)))
        );
        assert_eq!(Language::of("nodejs22.x"), Some((Language::Node, (22, 0))));
        assert_eq!(Language::of("ruby3.3"), Some((Language::Ruby, (3, 3))));
        assert_eq!(Language::of("dotnet8"), None);
        assert_eq!(Language::Node.runtime_id((20, 0)), "nodejs20.x");
    }

    /// An executable file at `path` (made with its parents).
    fn executable(path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn finds_jdks_under_usr_lib_jvm_by_their_release_file() {
        let root = tempfile::tempdir().unwrap();
        let jvm = root.path().join("usr/lib/jvm");
        // Never run: the release file says what they are.
        let java = "#!/bin/sh\nexit 1\n";
        executable(&jvm.join("temurin-25-jdk-amd64/bin/java"), java);
        std::fs::write(
            jvm.join("temurin-25-jdk-amd64/release"),
            "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n",
        )
        .unwrap();
        executable(&jvm.join("java-17-openjdk-amd64/bin/java"), java);
        std::fs::write(
            jvm.join("java-17-openjdk-amd64/release"),
            "JAVA_VERSION=\"17.0.15\"\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "java-17-openjdk-amd64",
            jvm.join("java-1.17.0-openjdk-amd64"),
        )
        .unwrap();
        // Sources only, no bin/java: not a JDK.
        std::fs::create_dir_all(jvm.join("openjdk-17")).unwrap();
        std::fs::write(jvm.join("openjdk-17/release"), "JAVA_VERSION=\"17\"\n").unwrap();
        let dirs: Vec<PathBuf> = search_dirs(root.path())
            .into_iter()
            .filter(|d| d.starts_with(root.path()))
            .collect();
        let found = find(&[], &dirs);
        let got: Vec<_> = found
            .iter()
            .map(|i| (i.language, i.version, i.release.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Language::Java, (17, 0), "17.0.15"),
                (Language::Java, (25, 0), "25.0.3"),
            ]
        );
        assert_eq!(
            found[1].path,
            jvm.join("temurin-25-jdk-amd64/bin/java"),
            "{found:#?}"
        );
    }

    #[test]
    fn java_versions_read_as_their_major() {
        assert_eq!(java_major("25"), Some(25));
        assert_eq!(java_major("17.0.15"), Some(17));
        assert_eq!(java_major("1.8.0_442"), Some(8));
        assert_eq!(java_major("21-ea"), Some(21));
        assert_eq!(java_major("x"), None);
    }

    #[test]
    fn finds_versioned_pythons_and_skips_shims() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let shims = dir.path().join("shims");
        for d in [&bin, &shims] {
            std::fs::create_dir_all(d).unwrap();
            for name in ["python3.12", "python3.9", "python3", "python3.12-config"] {
                let p = d.join(name);
                std::fs::write(&p, "").unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        let found = find(&[], &[shims, bin.clone()]);
        let versions: Vec<_> = found.iter().map(|i| i.version).collect();
        assert_eq!(versions, vec![(3, 12), (3, 9)]);
        assert!(found.iter().all(|i| i.path.starts_with(&bin)));
    }

    #[test]
    fn finds_pythons_inside_a_root_by_the_path_the_function_sees() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["usr/bin", "usr/local/bin"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for p in [
            "usr/bin/python3.9",
            "usr/bin/python3.12",
            "usr/bin/python3.8-config",
        ] {
            std::fs::write(r.join(p), "").unwrap();
            std::fs::set_permissions(r.join(p), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(r.join("usr/bin/python3.11"), "").unwrap();
        symlink("python3.9", r.join("usr/bin/python3")).unwrap();
        // An absolute link means the root's /opt, not the host's.
        symlink("/opt/py/bin/python3.12", r.join("usr/local/bin/python3.12")).unwrap();
        let found = find_in_root(r);
        let got: Vec<_> = found
            .iter()
            .map(|i| (i.version, i.path.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                ((3, 12), "/usr/local/bin/python3.12".to_string()),
                ((3, 9), "/usr/bin/python3.9".to_string()),
            ],
            "not executable: python3.11; not an interpreter: python3, -config"
        );
        assert!(find_in_root(&r.join("missing")).is_empty());
    }
}
