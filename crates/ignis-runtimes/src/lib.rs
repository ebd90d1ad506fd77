//! Runtimes are data, not code paths. A runtime identifier (`python3.13`,
//! `nodejs22.x`, `provided.al2023`) names a language and version; this crate
//! finds the interpreters installed on the node, picks the one a function
//! runs on (the exact version, or the nearest of the same language unless
//! strict), and supplies Ignis's own runtime client for it, shipped inside
//! the binary.
#![deny(missing_docs)]

mod clients;
mod discovery;
mod java;
mod java_cds;
mod summary;
mod version;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ignis_model::runtime::{classify, RuntimeKind};

pub use discovery::{Interpreter, Language};

/// How to start a managed runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The interpreter.
    pub program: PathBuf,
    /// Its arguments (the runtime client).
    pub args: Vec<String>,
    /// Variables the runtime needs besides Lambda's.
    pub env: Vec<(String, String)>,
    /// The runtime identifier that really runs, when it differs from the
    /// function's (nearest installed version).
    pub substitute: Option<String>,
    /// The host directory of the runtime client's files, which the sandbox
    /// must show the function (where `args` say it is).
    pub client_dir: Option<PathBuf>,
    /// The interpreter that runs (`program` is its executable).
    pub interpreter: Interpreter,
}

/// How a managed runtime may be started *held*: before its function is
/// known, with only the variables its start-up reads, its client taking
/// the rest of its environment once specialized (see the sandbox's
/// `namespace::prewarm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Variables a held start has besides the function's start-up ones,
    /// which its client removes once specialized. A function that sets one
    /// of them itself is not held.
    pub env: Vec<(String, String)>,
    /// Whether its stderr is `/dev/null` while held, the log's pipe waiting
    /// for its client (a JVM's launcher notes on stderr the options it was
    /// held with).
    pub park_stderr: bool,
}

impl Launch {
    /// How its runtime may be started held; `None`: never (it takes its
    /// environment once, at start). Python, Node.js and Ruby replace their
    /// environment in place; the Java client completes its process through
    /// the JDK's foreign function API, on the JDKs whose API it knows.
    pub fn holding(&self) -> Option<Holding> {
        match self.interpreter.language {
            Language::Python | Language::Node | Language::Ruby => Some(Holding {
                env: Vec::new(),
                park_stderr: false,
            }),
            Language::Java => {
                java::held_options(self.interpreter.version.0).map(|options| Holding {
                    env: vec![(java::LAUNCHER_OPTIONS.to_string(), options)],
                    park_stderr: true,
                })
            }
        }
    }
}

/// What a runtime identifier resolves to on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A custom runtime: the code's `bootstrap`.
    Custom,
    /// A managed runtime.
    Managed(Launch),
}

/// Why a runtime cannot run here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// Not a runtime identifier Lambda knows.
    #[error("unknown runtime {0}")]
    Unknown(String),
    /// Ignis has no runtime client for this language yet.
    #[error("the {0} runtime is not supported by Ignis yet")]
    Unsupported(String),
    /// No interpreter of the language is installed.
    #[error("no {language} interpreter is installed on this node for {runtime}")]
    NotInstalled {
        /// The runtime asked for.
        runtime: String,
        /// Its language.
        language: &'static str,
    },
    /// The runtime client could not be prepared (e.g. no `javac`).
    #[error("the {language} runtime client is not available: {reason}")]
    ClientUnavailable {
        /// The language.
        language: &'static str,
        /// Why.
        reason: String,
    },
    /// The runtime client is still being prepared (Java compiles once per machine).
    #[error("the {0} runtime client is still being prepared on this node; retry shortly")]
    NotPrepared(&'static str),
    /// Strict mode and the exact version is missing.
    #[error(
        "{runtime} is not installed on this node (nearest: {nearest}) and --strict-runtimes is set"
    )]
    Strict {
        /// The runtime asked for.
        runtime: String,
        /// What could have run instead.
        nearest: String,
    },
}

/// One line of `ignis runtimes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeStatus {
    /// The runtime identifier.
    pub runtime: &'static str,
    /// What runs it here, if anything.
    pub resolved: Result<Resolved, RuntimeError>,
    /// The interpreter's path, for managed runtimes that resolve.
    pub interpreter: Option<PathBuf>,
}

/// The interpreter chosen for a managed runtime: its language, the
/// interpreter, and the runtime that really runs if it is a substitute.
type Choice<'a> = (Language, &'a Interpreter, Option<String>);

/// The runtimes this node can run.
#[derive(Debug, Clone)]
pub struct Catalog {
    interpreters: Vec<Interpreter>,
    clients_dir: PathBuf,
    strict: bool,
    java_classes: Arc<OnceLock<Result<PathBuf, String>>>,
}

impl Catalog {
    /// Finds interpreters (`overrides` first, then those inside the
    /// sandbox's custom base root `root` if any, then PATH and well-known
    /// prefixes under `host_root`, `/` but in tests; the first of each
    /// language and version wins), writes the runtime clients under
    /// `clients_dir`, and, when a JVM is installed, compiles the Java
    /// client in the background into `cache_dir` (once per machine and
    /// client version: it takes seconds).
    pub fn discover(
        clients_dir: &Path,
        cache_dir: &Path,
        strict: bool,
        overrides: &[PathBuf],
        root: Option<&Path>,
        host_root: &Path,
    ) -> std::io::Result<Self> {
        clients::install(clients_dir)?;
        let mut interpreters = discovery::find(overrides, &[]);
        let in_root = root.map(discovery::find_in_root).unwrap_or_default();
        let on_host = discovery::find(&[], &discovery::search_dirs(host_root));
        for i in in_root.into_iter().chain(on_host) {
            if !interpreters
                .iter()
                .any(|f| f.language == i.language && f.version == i.version)
            {
                interpreters.push(i);
            }
        }
        for i in &interpreters {
            tracing::debug!(language = i.language.name(), version = %i.release, path = %i.path.display(), "interpreter found");
        }
        let (dir, pythons) = (clients_dir.join("python"), interpreters.clone());
        std::thread::spawn(move || clients::compile_python(&dir, &pythons));
        let java_classes: Arc<OnceLock<Result<PathBuf, String>>> = Arc::default();
        let newest_java = interpreters
            .iter()
            .filter(|i| i.language == Language::Java)
            .max_by_key(|i| i.version);
        if let Some(java) = newest_java {
            let (java, cache, slot) = (
                java.path.clone(),
                cache_dir.to_path_buf(),
                java_classes.clone(),
            );
            let jdks: Vec<Interpreter> = interpreters
                .iter()
                .filter(|i| i.language == Language::Java)
                .cloned()
                .collect();
            std::thread::spawn(move || {
                let result = java::compile(&java, &cache);
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "the Java runtime client is not available");
                }
                let classes = result.as_ref().ok().cloned();
                let _ = slot.set(result);
                // Java functions run meanwhile, without the archive.
                for jdk in classes
                    .iter()
                    .flat_map(|c| jdks.iter().map(move |j| (c, j)))
                {
                    let (classes, jdk) = jdk;
                    match java_cds::prepare(jdk, classes) {
                        Ok(()) => {
                            tracing::debug!(jdk = %jdk.path.display(), "the Java client's class data sharing archive is ready")
                        }
                        Err(e) => {
                            tracing::warn!(jdk = %jdk.path.display(), error = %e, "no class data sharing archive of the Java client; it starts without one")
                        }
                    }
                }
            });
        }
        Ok(Self {
            interpreters,
            clients_dir: clients_dir.to_path_buf(),
            strict,
            java_classes,
        })
    }

    /// A catalog over known interpreters (tests).
    pub fn with_interpreters(
        clients_dir: &Path,
        strict: bool,
        interpreters: Vec<Interpreter>,
    ) -> Self {
        Self {
            interpreters,
            clients_dir: clients_dir.to_path_buf(),
            strict,
            java_classes: Arc::default(),
        }
    }

    /// Chooses the interpreter for `runtime`.
    fn interpreter(&self, runtime: &str) -> Result<Option<Choice<'_>>, RuntimeError> {
        match classify(runtime) {
            Err(_) => return Err(RuntimeError::Unknown(runtime.to_string())),
            Ok(RuntimeKind::Custom) => return Ok(None),
            Ok(RuntimeKind::Managed) => {}
        }
        let (language, wanted) =
            Language::of(runtime).ok_or_else(|| RuntimeError::Unsupported(runtime.to_string()))?;
        let best = self
            .interpreters
            .iter()
            .filter(|i| i.language == language)
            .min_by_key(|i| {
                (
                    language.distance(i.version, wanted),
                    std::cmp::Reverse(i.version),
                )
            })
            .ok_or_else(|| RuntimeError::NotInstalled {
                runtime: runtime.to_string(),
                language: language.name(),
            })?;
        let actual = language.runtime_id(best.version);
        let substitute = (actual != runtime).then_some(actual);
        if let (Some(nearest), true) = (&substitute, self.strict) {
            return Err(RuntimeError::Strict {
                runtime: runtime.to_string(),
                nearest: nearest.clone(),
            });
        }
        Ok(Some((language, best, substitute)))
    }

    /// What `runtime` runs on here, with layers under `opt_dir` (`/opt` on
    /// Lambda) and the runtime client's directory seen at `client_seen_at`
    /// (`/var/runtime` in the `namespace` sandbox; `None`: its host path).
    pub fn resolve(
        &self,
        runtime: &str,
        opt_dir: &Path,
        client_seen_at: Option<&Path>,
    ) -> Result<Resolved, RuntimeError> {
        let Some((language, interpreter, substitute)) = self.interpreter(runtime)? else {
            return Ok(Resolved::Custom);
        };
        let classes = match language {
            Language::Java => match self.java_classes.get() {
                Some(Ok(dir)) => Some(dir.as_path()),
                Some(Err(reason)) => {
                    return Err(RuntimeError::ClientUnavailable {
                        language: "Java",
                        reason: reason.clone(),
                    })
                }
                None => return Err(RuntimeError::NotPrepared("Java")),
            },
            _ => None,
        };
        let files = clients::ClientFiles {
            dir: &self.clients_dir,
            java_classes: classes,
            seen_at: client_seen_at,
        };
        Ok(Resolved::Managed(clients::launch(
            language,
            interpreter,
            &files,
            opt_dir,
            substitute,
        )))
    }

    /// Every runtime identifier and what it runs on here.
    pub fn list(&self) -> Vec<RuntimeStatus> {
        ignis_model::runtime::KNOWN_RUNTIMES
            .iter()
            .map(|&runtime| {
                let resolved = self.resolve(runtime, Path::new("/opt"), None);
                let interpreter = match &resolved {
                    Ok(Resolved::Managed(l)) => Some(l.program.clone()),
                    _ => None,
                };
                RuntimeStatus {
                    runtime,
                    resolved,
                    interpreter,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(minor: u32) -> Interpreter {
        Interpreter {
            language: Language::Python,
            version: (3, minor),
            path: format!("/usr/bin/python3.{minor}").into(),
            release: format!("3.{minor}.1"),
        }
    }

    impl Catalog {
        fn resolve_default(&self, runtime: &str) -> Result<Resolved, RuntimeError> {
            self.resolve(runtime, Path::new("/opt"), None)
        }
    }

    #[test]
    fn exact_then_nearest_then_strict() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::with_interpreters(dir.path(), false, vec![py(11), py(13)]);
        let Ok(Resolved::Managed(l)) = c.resolve_default("python3.11") else {
            panic!()
        };
        assert_eq!(
            (l.program.to_str(), l.substitute),
            (Some("/usr/bin/python3.11"), None)
        );
        let Ok(Resolved::Managed(l)) = c.resolve_default("python3.14") else {
            panic!()
        };
        assert_eq!(l.substitute.as_deref(), Some("python3.13"));
        let Ok(Resolved::Managed(l)) = c.resolve_default("python3.12") else {
            panic!()
        };
        assert_eq!(
            l.substitute.as_deref(),
            Some("python3.13"),
            "ties go to the newer"
        );
        let strict = Catalog::with_interpreters(dir.path(), true, vec![py(11)]);
        assert!(matches!(
            strict.resolve_default("python3.13"),
            Err(RuntimeError::Strict { .. })
        ));
        assert_eq!(c.resolve_default("provided.al2023"), Ok(Resolved::Custom));
        assert!(matches!(
            c.resolve_default("nodejs20.x"),
            Err(RuntimeError::NotInstalled { .. })
        ));
        assert!(matches!(
            c.resolve_default("cobol"),
            Err(RuntimeError::Unknown(_))
        ));
    }

    #[test]
    fn the_client_is_found_where_the_sandbox_shows_it() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::with_interpreters(dir.path(), false, vec![py(13)]);
        let Ok(Resolved::Managed(host)) = c.resolve_default("python3.13") else {
            panic!()
        };
        let client = dir.path().join("python");
        assert_eq!(host.client_dir.as_deref(), Some(client.as_path()));
        assert_eq!(
            host.args.last().map(String::as_str),
            client.join("bootstrap.py").to_str()
        );
        let Ok(Resolved::Managed(seen)) = c.resolve(
            "python3.13",
            Path::new("/opt"),
            Some(Path::new("/var/runtime")),
        ) else {
            panic!()
        };
        assert_eq!(seen.client_dir, host.client_dir);
        assert_eq!(
            seen.args,
            ["-S", "-u", "/var/runtime/bootstrap.py"].map(String::from)
        );
    }
}
