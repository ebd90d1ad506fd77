//! The mount plan, in two parts, built in the server (where allocating is
//! fine) and executed between `fork` and `exec` (where it is not: every
//! path is a ready C string).
//!
//! - The **template** ([`template_plan`], run once per base root and set of
//!   host interpreter directories by [`super::template`]): a tmpfs holding
//!   read-only binds of the base root's directories ([`super::base_root`]:
//!   the host's, or a custom root's), a minimal `/dev`, the host
//!   interpreter prefixes a runtime needs, and empty mount points for what
//!   each environment brings. It is pivoted into and made read-only in a
//!   mount namespace of its own, which the server keeps open.
//! - The **environment's own** ([`env_plan`]): each environment's keeper
//!   enters the template's namespace and unshares a copy of it (a few
//!   dozen mounts copied in the kernel, no `pivot_root`, no old root to
//!   unmount), then its init attaches the code at `/var/task`, layers at
//!   `/opt` and Ignis's runtime client at `/var/runtime` (read-only trees
//!   the server cloned with `open_tree`, since the host's paths are not
//!   visible from inside) and its `/tmp` (a file system of its own on disk
//!   that the server mounted, [`super::disk`], or a sized tmpfs when
//!   disks are not available), and mounts a `/dev/shm` and a fresh
//!   `/proc`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::base_root::BaseEntry;

/// Host directories that make up the read-only base root by default.
pub const BASE_DIRS: [&str; 6] = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"];
/// Devices bind-mounted from the host into `/dev`.
pub const DEVICES: [&str; 6] = ["null", "zero", "random", "urandom", "full", "tty"];
/// Where the function sees its code.
pub const TASK_ROOT: &str = "/var/task";
/// Where the function sees its layers.
pub const OPT: &str = "/opt";
/// Where the function sees the runtime client files (Lambda keeps its
/// runtime there too).
pub const RUNTIME_DIR: &str = "/var/runtime";
/// The function's scratch space.
pub const TMP: &str = "/tmp";
/// Options of the environment's `/proc`: processes of other users — the
/// root-owned init, whose command line is the server's — are invisible, not
/// merely unreadable. System-wide files (`meminfo`, `cpuinfo`, `stat`) stay.
pub const PROC_OPTIONS: &str = "hidepid=2";

/// One step of the plan; paths are absolute on the host, under the new root
/// where they are targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `mkdir` (an existing directory is fine).
    Mkdir(CString),
    /// An empty file to bind a device onto.
    Touch(CString),
    /// A symbolic link: (link contents, path).
    Symlink(CString, CString),
    /// A tmpfs with these mount options (`size=…,mode=…`).
    Tmpfs(CString, CString),
    /// A recursive bind mount made read-only (source, target).
    BindRo(CString, CString),
    /// A bind mount left writable (devices).
    Bind(CString, CString),
    /// A fresh procfs with these mount options.
    Proc(CString, CString),
}

/// What the template is built from.
#[derive(Debug, Clone)]
pub struct TemplateLayout<'a> {
    /// Host directory the template's root tmpfs is mounted on (only inside
    /// the template's own mount namespace, until it pivots into it).
    pub new_root: &'a Path,
    /// The base root entries (see [`super::base_root::BaseRoot::entries`]).
    pub base: &'a [BaseEntry],
    /// Host directories the runtime needs, visible read-only at their own path.
    pub extra: &'a [PathBuf],
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths hold no NUL bytes")
}

/// Mount points every environment fills with its own mounts.
const ENV_MOUNT_POINTS: [&str; 7] = ["/var", TASK_ROOT, RUNTIME_DIR, OPT, TMP, "/dev", "/proc"];

/// Builds the steps that populate the template's root.
pub fn template_plan(l: &TemplateLayout<'_>) -> Vec<Step> {
    let at = |guest: &str| l.new_root.join(guest.trim_start_matches('/'));
    let mut steps = vec![Step::Tmpfs(c(l.new_root), cstr("mode=0755,size=1m"))];
    for entry in l.base {
        match entry {
            BaseEntry::Dir { host, guest } => {
                let target = at(&guest.to_string_lossy());
                steps.push(Step::Mkdir(c(&target)));
                steps.push(Step::BindRo(c(host), c(&target)));
            }
            BaseEntry::Link { guest, target } => {
                steps.push(Step::Symlink(c(target), c(&at(&guest.to_string_lossy()))))
            }
            BaseEntry::File {
                host,
                guest,
                create,
            } => {
                let target = at(&guest.to_string_lossy());
                if *create {
                    if let Some(parent) = target.parent() {
                        steps.push(Step::Mkdir(c(parent)));
                    }
                    steps.push(Step::Touch(c(&target)));
                }
                steps.push(Step::BindRo(c(host), c(&target)));
            }
        }
    }
    for dir in ENV_MOUNT_POINTS {
        steps.push(Step::Mkdir(c(&at(dir))));
    }
    steps.extend(dev_steps(&at("/dev")));
    for dir in l.extra {
        let mut ancestors: Vec<_> = dir.ancestors().skip(1).collect();
        ancestors.reverse();
        for a in ancestors.into_iter().skip(1) {
            steps.push(Step::Mkdir(c(&at(&a.to_string_lossy()))));
        }
        let target = at(&dir.to_string_lossy());
        steps.push(Step::Mkdir(c(&target)));
        steps.push(Step::BindRo(c(dir), c(&target)));
    }
    steps
}

/// What an environment's `/tmp` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmpKind {
    /// A tmpfs of this many MB: its pages are memory, charged to the
    /// environment's memory cgroup.
    Memory(u32),
    /// A file system of its own on disk (`super::disk`), which the server
    /// brings as a detached mount: nothing to mount here.
    Disk,
}

/// What one environment brings into its copy of the template.
#[derive(Debug, Clone)]
pub struct EnvLayout<'a> {
    /// The function's code; `None` for a held launch, which gets it (and
    /// its layers) when specialized.
    pub code_dir: Option<&'a Path>,
    /// The function's layers.
    pub opt_dir: Option<&'a Path>,
    /// The runtime client files, shown at [`RUNTIME_DIR`].
    pub runtime_dir: Option<&'a Path>,
    /// Its `/tmp`.
    pub tmp: TmpKind,
}

/// One environment's own mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvMounts {
    /// Host directories shown read-only at a path inside: (host, guest).
    pub trees: Vec<(PathBuf, CString)>,
    /// File systems of its own, mounted after the trees are attached.
    pub steps: Vec<Step>,
}

/// Builds one environment's own mounts; every target is a mount point of
/// the template.
pub fn env_plan(l: &EnvLayout<'_>) -> EnvMounts {
    let mut trees: Vec<_> = l
        .code_dir
        .map(|code| (code.to_path_buf(), cstr(TASK_ROOT)))
        .into_iter()
        .collect();
    if let Some(runtime) = l.runtime_dir {
        trees.push((runtime.to_path_buf(), cstr(RUNTIME_DIR)));
    }
    if let Some(opt) = l.opt_dir {
        trees.push((opt.to_path_buf(), cstr(OPT)));
    }
    let mut steps = Vec::with_capacity(3);
    if let TmpKind::Memory(mb) = l.tmp {
        steps.push(Step::Tmpfs(
            cstr(TMP),
            cstr(&format!("mode=1777,size={}m", mb.max(1))),
        ));
    }
    steps.push(Step::Tmpfs(cstr("/dev/shm"), cstr("mode=1777,size=64m")));
    steps.push(Step::Proc(cstr("/proc"), cstr(PROC_OPTIONS)));
    EnvMounts { trees, steps }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL bytes")
}

fn dev_steps(dev: &Path) -> Vec<Step> {
    let mut steps = vec![Step::Tmpfs(c(dev), cstr("mode=0755,size=64k"))];
    for d in DEVICES {
        steps.push(Step::Touch(c(&dev.join(d))));
        steps.push(Step::Bind(c(&Path::new("/dev").join(d)), c(&dev.join(d))));
    }
    let links = [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    for (to, name) in links {
        steps.push(Step::Symlink(cstr(to), c(&dev.join(name))));
    }
    steps.push(Step::Mkdir(c(&dev.join("shm"))));
    steps
}

/// The host directory an interpreter outside the base root needs: its
/// installation prefix (`~/.pyenv/versions/X` for `…/X/bin/python`, found
/// through symlinks), visible read-only at its own path because
/// interpreters find their libraries there. A program under `/var/task` or
/// `/opt` is the function's own; one under the base root is already there.
pub fn interpreter_prefix(program: &Path) -> Option<PathBuf> {
    if program.starts_with(TASK_ROOT) || program.starts_with(OPT) {
        return None;
    }
    let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    if BASE_DIRS.iter().any(|b| real.starts_with(b)) {
        return None;
    }
    real.parent().and_then(Path::parent).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(steps: &[Step]) -> Vec<String> {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        steps
            .iter()
            .map(|st| match st {
                Step::Mkdir(p) => format!("mkdir {}", s(p)),
                Step::Touch(p) => format!("touch {}", s(p)),
                Step::Symlink(to, p) => format!("ln {} -> {}", s(p), s(to)),
                Step::Tmpfs(p, o) => format!("tmpfs {} {}", s(p), s(o)),
                Step::BindRo(f, t) => format!("bind-ro {} {}", s(f), s(t)),
                Step::Bind(f, t) => format!("bind {} {}", s(f), s(t)),
                Step::Proc(p, o) => format!("proc {} {}", s(p), s(o)),
            })
            .collect()
    }

    #[test]
    fn plan_builds_a_read_only_root_without_host_data() {
        let base = [
            BaseEntry::Dir {
                host: "/usr".into(),
                guest: "/usr".into(),
            },
            BaseEntry::Link {
                guest: "/bin".into(),
                target: "usr/bin".into(),
            },
            BaseEntry::Dir {
                host: "/etc".into(),
                guest: "/etc".into(),
            },
        ];
        let extra = [PathBuf::from("/root/.pyenv/versions/3.12")];
        let steps = template_plan(&TemplateLayout {
            new_root: Path::new("/s/r"),
            base: &base,
            extra: &extra,
        });
        let shown = show(&steps);
        let want = [
            "tmpfs /s/r mode=0755,size=1m",
            "mkdir /s/r/usr",
            "bind-ro /usr /s/r/usr",
            "ln /s/r/bin -> usr/bin",
            "mkdir /s/r/etc",
            "bind-ro /etc /s/r/etc",
            "mkdir /s/r/var/task",
            "mkdir /s/r/var/runtime",
            "mkdir /s/r/opt",
            "mkdir /s/r/tmp",
            "mkdir /s/r/proc",
            "tmpfs /s/r/dev mode=0755,size=64k",
            "bind /dev/null /s/r/dev/null",
            "ln /s/r/dev/fd -> /proc/self/fd",
            "mkdir /s/r/dev/shm",
            "mkdir /s/r/root",
            "mkdir /s/r/root/.pyenv/versions",
            "bind-ro /root/.pyenv/versions/3.12 /s/r/root/.pyenv/versions/3.12",
        ];
        in_order(&shown, &want);
        assert!(!shown
            .iter()
            .any(|s| s.contains("/home") || s.contains("/data") || s.contains("proc /")));
        // Nothing is made inside the function's /tmp, even for host
        // directories under the host's /tmp.
        assert!(!shown.iter().any(|s| s.contains("/s/r/tmp/")), "{shown:#?}");
    }

    fn in_order(shown: &[String], want: &[&str]) {
        let mut at = 0;
        for w in want {
            let found = shown[at..].iter().position(|s| s == w);
            assert!(found.is_some(), "{w} missing or out of order in {shown:#?}");
            at += found.unwrap() + 1;
        }
    }

    #[test]
    fn an_environment_brings_its_code_layers_runtime_and_file_systems() {
        let mounts = env_plan(&EnvLayout {
            code_dir: Some(Path::new("/data/code/abc")),
            opt_dir: Some(Path::new("/data/opt/1")),
            runtime_dir: Some(Path::new("/tmp/data/runtimes/python")),
            tmp: TmpKind::Memory(512),
        });
        let trees: Vec<_> = mounts
            .trees
            .iter()
            .map(|(h, g)| format!("{} {}", h.display(), g.to_string_lossy()))
            .collect();
        assert_eq!(
            trees,
            [
                "/data/code/abc /var/task",
                "/tmp/data/runtimes/python /var/runtime",
                "/data/opt/1 /opt"
            ]
        );
        assert_eq!(
            show(&mounts.steps),
            [
                "tmpfs /tmp mode=1777,size=512m",
                "tmpfs /dev/shm mode=1777,size=64m",
                "proc /proc hidepid=2",
            ]
        );
        let bare = env_plan(&EnvLayout {
            code_dir: Some(Path::new("/c")),
            opt_dir: None,
            runtime_dir: None,
            tmp: TmpKind::Memory(0),
        });
        assert_eq!(bare.trees.len(), 1);
        assert_eq!(show(&bare.steps)[0], "tmpfs /tmp mode=1777,size=1m");
        // A disk /tmp is the server's detached mount, attached by the
        // init: nothing is mounted at /tmp here.
        let disk = env_plan(&EnvLayout {
            code_dir: Some(Path::new("/c")),
            opt_dir: None,
            runtime_dir: None,
            tmp: TmpKind::Disk,
        });
        assert_eq!(
            show(&disk.steps),
            ["tmpfs /dev/shm mode=1777,size=64m", "proc /proc hidepid=2"]
        );
    }

    fn layout<'a>(base: &'a [BaseEntry], extra: &'a [PathBuf]) -> TemplateLayout<'a> {
        TemplateLayout {
            new_root: Path::new("/s/r"),
            base,
            extra,
        }
    }

    #[test]
    fn a_custom_root_is_bound_from_its_directory_with_its_links() {
        let base = [
            BaseEntry::Dir {
                host: "/srv/al2023/usr".into(),
                guest: "/usr".into(),
            },
            BaseEntry::Link {
                guest: "/lib64".into(),
                target: "usr/lib64".into(),
            },
            BaseEntry::Dir {
                host: "/srv/al2023/etc".into(),
                guest: "/etc".into(),
            },
            BaseEntry::File {
                host: "/etc/resolv.conf".into(),
                guest: "/etc/resolv.conf".into(),
                create: false,
            },
        ];
        let extra = [PathBuf::from("/root/.pyenv/versions/3.12")];
        let shown = show(&template_plan(&layout(&base, &extra)));
        let want = [
            "tmpfs /s/r mode=0755,size=1m",
            "mkdir /s/r/usr",
            "bind-ro /srv/al2023/usr /s/r/usr",
            "ln /s/r/lib64 -> usr/lib64",
            "mkdir /s/r/etc",
            "bind-ro /srv/al2023/etc /s/r/etc",
            "bind-ro /etc/resolv.conf /s/r/etc/resolv.conf",
            "mkdir /s/r/var/task",
            "bind-ro /root/.pyenv/versions/3.12 /s/r/root/.pyenv/versions/3.12",
        ];
        in_order(&shown, &want);
        // Nothing of the host's base directories, and nothing is made
        // inside the root's own (read-only) etc.
        for host in ["bind-ro /usr ", "bind-ro /etc ", "bind-ro /lib"] {
            assert!(!shown.iter().any(|s| s.starts_with(host)), "{shown:#?}");
        }
        assert!(!shown.iter().any(|s| s.starts_with("touch /s/r/etc")));
    }

    #[test]
    fn host_resolver_files_get_an_etc_of_their_own_in_a_root_without_one() {
        let base = [
            BaseEntry::Dir {
                host: "/srv/min/usr".into(),
                guest: "/usr".into(),
            },
            BaseEntry::File {
                host: "/etc/hosts".into(),
                guest: "/etc/hosts".into(),
                create: true,
            },
        ];
        let shown = show(&template_plan(&layout(&base, &[])));
        let want = [
            "bind-ro /srv/min/usr /s/r/usr",
            "mkdir /s/r/etc",
            "touch /s/r/etc/hosts",
            "bind-ro /etc/hosts /s/r/etc/hosts",
        ];
        in_order(&shown, &want);
    }

    #[test]
    fn an_interpreter_outside_the_base_root_brings_its_prefix() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("pyenv/versions/3.12/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("python"), "").unwrap();
        let real = std::fs::canonicalize(d.path().join("pyenv/versions/3.12")).unwrap();
        assert_eq!(interpreter_prefix(&bin.join("python")), Some(real));
        assert_eq!(interpreter_prefix(Path::new("/usr/bin/env")), None);
        assert_eq!(interpreter_prefix(Path::new("/var/task/bootstrap")), None);
    }
}
