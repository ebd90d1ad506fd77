//! The environment's read-only base root: which directories of which root
//! file system the function sees at `/usr`, `/lib`, `/lib64`, `/bin`,
//! `/sbin` and `/etc`. By default the host's; with `--sandbox-root DIR` the
//! ones of `DIR`, a directory laid out like a root file system (an Amazon
//! Linux 2023 userland extracted from a container image, say). Read and
//! checked once, when the backend starts; the mount plan
//! ([`super::mounts::template_plan`]) turns the entries into binds and links.

use std::ffi::OsString;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Entries of a root file system that make up the base root, in mount order.
pub const BASE_NAMES: [&str; 6] = ["usr", "lib", "lib64", "bin", "sbin", "etc"];
/// Files of the host bound over a custom root's own: the resolver
/// configuration and host names that work on this host (as a container
/// engine does, and as Lambda provides its own).
pub const HOST_FILES: [&str; 2] = ["etc/resolv.conf", "etc/hosts"];
/// Symbolic links followed before a path inside a root counts as looping.
const MAX_LINKS: usize = 40;

/// One entry of the base root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseEntry {
    /// A directory, bind-mounted read-only from `host` at `guest`.
    Dir {
        /// Where it is on the host.
        host: PathBuf,
        /// Where the function sees it.
        guest: PathBuf,
    },
    /// A symbolic link (merged-/usr systems: `/bin -> usr/bin`), recreated
    /// at `guest` with the same contents.
    Link {
        /// Where the function sees it.
        guest: PathBuf,
        /// What it points to.
        target: PathBuf,
    },
    /// A host file bound read-only at `guest`: over the root's own file, or
    /// on an empty file made in the new root when `create` (the root has no
    /// `etc` at all).
    File {
        /// Where it is on the host.
        host: PathBuf,
        /// Where the function sees it.
        guest: PathBuf,
        /// Make the file (and its directory) in the new root first.
        create: bool,
    },
}

/// Why a custom base root cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaseRootError {
    /// It could not be read (missing, no permission).
    #[error("failed to read the sandbox root {path}")]
    Read {
        /// The directory given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is a file or something else.
    #[error("the sandbox root {0} is not a directory")]
    NotADirectory(PathBuf),
    /// It has no `usr` directory (a symbolic link does not count: it would
    /// point outside the root).
    #[error(
        "the sandbox root {0} has no usr directory: expected a root file system \
         (e.g. a container image's userland extracted there)"
    )]
    NoUsr(PathBuf),
    /// It has no `/bin/sh`, which the backend's start-up self-check runs.
    #[error("the sandbox root {0} has no bin/sh (the sandbox's start-up self-check runs /bin/sh inside it)")]
    NoShell(PathBuf),
}

/// The base root in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRoot {
    dir: Option<PathBuf>,
    entries: Vec<BaseEntry>,
}

impl BaseRoot {
    /// The host's own base directories.
    pub fn host() -> Self {
        Self {
            dir: None,
            entries: scan(Path::new("/")),
        }
    }

    /// The base directories of `dir`, checked: it must be a directory with
    /// a `usr` directory and a `/bin/sh` (found through the root's own
    /// links). The host's `etc/resolv.conf` and `etc/hosts` are bound over
    /// the root's when it has them as plain files, and provided in an
    /// `/etc` of their own when it has no `etc`.
    pub fn custom(dir: &Path) -> Result<Self, BaseRootError> {
        let read = |source| BaseRootError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let dir = std::fs::canonicalize(dir).map_err(read)?;
        if !std::fs::metadata(&dir).map_err(read)?.is_dir() {
            return Err(BaseRootError::NotADirectory(dir));
        }
        if !std::fs::symlink_metadata(dir.join("usr")).is_ok_and(|m| m.is_dir()) {
            return Err(BaseRootError::NoUsr(dir));
        }
        if !resolve_in(&dir, Path::new("/bin/sh")).is_some_and(|p| p.is_file()) {
            return Err(BaseRootError::NoShell(dir));
        }
        let mut entries = scan(&dir);
        let has_etc = entries.iter().any(|e| guest(e) == Path::new("/etc"));
        for name in HOST_FILES {
            let host = Path::new("/").join(name);
            if !host.is_file() {
                continue;
            }
            let own = std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.is_file());
            if own || !has_etc {
                entries.push(BaseEntry::File {
                    host,
                    guest: Path::new("/").join(name),
                    create: !has_etc,
                });
            }
        }
        Ok(Self {
            dir: Some(dir),
            entries,
        })
    }

    /// The custom root directory, or `None` for the host's.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether a custom root holds `guest` (a path as the function sees
    /// it, found through the root's own links); never for the host's.
    pub fn holds(&self, guest: &Path) -> bool {
        self.dir
            .as_deref()
            .is_some_and(|dir| resolve_in(dir, guest).is_some())
    }

    /// What the mount plan binds and links.
    pub fn entries(&self) -> &[BaseEntry] {
        &self.entries
    }
}

impl fmt::Display for BaseRoot {
    /// `the host's /usr, /bin -> usr/bin, …` or `/srv/al2023 (/usr, …;
    /// the host's /etc/resolv.conf)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut own = Vec::new();
        let mut host = Vec::new();
        for e in &self.entries {
            match e {
                BaseEntry::Dir { guest, .. } => own.push(guest.display().to_string()),
                BaseEntry::Link { guest, target } => {
                    own.push(format!("{} -> {}", guest.display(), target.display()))
                }
                BaseEntry::File { guest, .. } => host.push(guest.display().to_string()),
            }
        }
        match &self.dir {
            None => write!(f, "the host's {}", own.join(", ")),
            Some(dir) if host.is_empty() => write!(f, "{} ({})", dir.display(), own.join(", ")),
            Some(dir) => write!(
                f,
                "{} ({}; the host's {})",
                dir.display(),
                own.join(", "),
                host.join(", ")
            ),
        }
    }
}

fn guest(e: &BaseEntry) -> &Path {
    match e {
        BaseEntry::Dir { guest, .. }
        | BaseEntry::Link { guest, .. }
        | BaseEntry::File { guest, .. } => guest,
    }
}

/// Which of [`BASE_NAMES`] exist under `root`, as directories or links.
fn scan(root: &Path) -> Vec<BaseEntry> {
    BASE_NAMES
        .iter()
        .filter_map(|name| {
            let host = root.join(name);
            let guest = Path::new("/").join(name);
            match std::fs::read_link(&host) {
                Ok(target) => Some(BaseEntry::Link { guest, target }),
                Err(_) => host.is_dir().then_some(BaseEntry::Dir { host, guest }),
            }
        })
        .collect()
}

/// Where the absolute path `guest` leads inside `root`, as a function with
/// that root would find it: symbolic links are followed inside the root (an
/// absolute target starts again at the root, `..` stops there). `None` when
/// a part is missing or the links loop.
pub fn resolve_in(root: &Path, guest: &Path) -> Option<PathBuf> {
    let mut pending = parts(guest);
    let mut at = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&part);
        let meta = std::fs::symlink_metadata(root.join(&next)).ok()?;
        if !meta.file_type().is_symlink() {
            at = next;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return None;
        }
        let target = std::fs::read_link(root.join(&next)).ok()?;
        if target.is_absolute() {
            at = PathBuf::new();
        }
        pending.extend(parts(&target));
    }
    Some(root.join(at))
}

/// The normal and `..` parts of `p`, last first (a stack).
fn parts(p: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    v.reverse();
    v
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A merged-/usr root like Amazon Linux 2023's, with `sh -> bash`.
    fn al2023_like(etc: bool) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for dir in ["usr/bin", "usr/lib", "usr/lib64", "usr/sbin"] {
            std::fs::create_dir_all(r.join(dir)).unwrap();
        }
        std::fs::write(r.join("usr/bin/bash"), "").unwrap();
        symlink("bash", r.join("usr/bin/sh")).unwrap();
        for (link, to) in [
            ("bin", "usr/bin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
            ("sbin", "usr/sbin"),
        ] {
            symlink(to, r.join(link)).unwrap();
        }
        if etc {
            std::fs::create_dir(r.join("etc")).unwrap();
            std::fs::write(r.join("etc/os-release"), "ID=ignis-test\n").unwrap();
            std::fs::write(r.join("etc/resolv.conf"), "").unwrap();
            // A link would lead outside the root or nowhere: left alone.
            symlink("/run/hosts", r.join("etc/hosts")).unwrap();
        }
        d
    }

    #[test]
    fn the_host_base_is_the_host_s_directories() {
        let base = BaseRoot::host();
        assert_eq!(base.dir(), None);
        assert!(base.entries().iter().any(|e| guest(e) == Path::new("/usr")));
        assert!(base.to_string().starts_with("the host's /usr"), "{base}");
    }

    #[test]
    fn a_custom_root_brings_its_directories_and_links() {
        let d = al2023_like(true);
        let base = BaseRoot::custom(d.path()).unwrap();
        let r = std::fs::canonicalize(d.path()).unwrap();
        assert_eq!(base.dir(), Some(r.as_path()));
        let mut want = vec![
            BaseEntry::Dir {
                host: r.join("usr"),
                guest: "/usr".into(),
            },
            BaseEntry::Link {
                guest: "/lib".into(),
                target: "usr/lib".into(),
            },
            BaseEntry::Link {
                guest: "/lib64".into(),
                target: "usr/lib64".into(),
            },
            BaseEntry::Link {
                guest: "/bin".into(),
                target: "usr/bin".into(),
            },
            BaseEntry::Link {
                guest: "/sbin".into(),
                target: "usr/sbin".into(),
            },
            BaseEntry::Dir {
                host: r.join("etc"),
                guest: "/etc".into(),
            },
        ];
        if Path::new("/etc/resolv.conf").is_file() {
            want.push(BaseEntry::File {
                host: "/etc/resolv.conf".into(),
                guest: "/etc/resolv.conf".into(),
                create: false,
            });
        }
        assert_eq!(base.entries(), want.as_slice());
        let shown = base.to_string();
        assert!(
            shown.starts_with(&format!("{} (/usr, /lib -> usr/lib", r.display())),
            "{shown}"
        );
        assert!(!shown.contains("/etc/hosts"), "{shown}");
    }

    #[test]
    fn a_root_without_etc_gets_the_host_s_resolver_files() {
        let d = al2023_like(false);
        let base = BaseRoot::custom(d.path()).unwrap();
        for name in HOST_FILES {
            let host = Path::new("/").join(name);
            let want = BaseEntry::File {
                host: host.clone(),
                guest: host.clone(),
                create: true,
            };
            assert_eq!(base.entries().contains(&want), host.is_file(), "{name}");
        }
    }

    #[test]
    fn a_bad_root_is_refused_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nothing");
        let err = BaseRoot::custom(&missing).unwrap_err();
        assert!(matches!(err, BaseRootError::Read { .. }), "{err}");
        assert!(err.to_string().contains("nothing"), "{err}");

        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = BaseRoot::custom(&file).unwrap_err();
        assert!(matches!(err, BaseRootError::NotADirectory(_)), "{err}");

        let err = BaseRoot::custom(d.path()).unwrap_err();
        assert!(matches!(err, BaseRootError::NoUsr(_)), "{err}");
        assert!(err.to_string().contains("no usr directory"), "{err}");

        // `usr` as a link would leave the root.
        symlink("/usr", d.path().join("usr")).unwrap();
        let err = BaseRoot::custom(d.path()).unwrap_err();
        assert!(matches!(err, BaseRootError::NoUsr(_)), "{err}");

        std::fs::remove_file(d.path().join("usr")).unwrap();
        std::fs::create_dir_all(d.path().join("usr/bin")).unwrap();
        let err = BaseRoot::custom(d.path()).unwrap_err();
        assert!(matches!(err, BaseRootError::NoShell(_)), "{err}");
    }

    #[test]
    fn paths_resolve_inside_the_root() {
        let d = al2023_like(true);
        let r = d.path();
        assert_eq!(
            resolve_in(r, Path::new("/bin/sh")),
            Some(r.join("usr/bin/bash"))
        );
        // An absolute link starts again at the root, not the host's.
        symlink("/usr/bin/bash", r.join("usr/bin/abs")).unwrap();
        assert_eq!(
            resolve_in(r, Path::new("/bin/abs")),
            Some(r.join("usr/bin/bash"))
        );
        // `..` stops at the root.
        symlink("../../../../../etc", r.join("usr/up")).unwrap();
        assert_eq!(
            resolve_in(r, Path::new("/usr/up/os-release")),
            Some(r.join("etc/os-release"))
        );
        assert_eq!(resolve_in(r, Path::new("/etc/hosts")), None);
        let base = BaseRoot::custom(r).unwrap();
        assert!(base.holds(Path::new("/bin/sh")));
        assert!(!base.holds(Path::new("/root/.pyenv/versions/3.12/bin/python")));
        assert!(!BaseRoot::host().holds(Path::new("/bin/sh")));
        symlink("loop", r.join("usr/loop")).unwrap();
        assert_eq!(resolve_in(r, Path::new("/usr/loop")), None);
    }
}
