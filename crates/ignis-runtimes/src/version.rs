//! What a runtime really runs on, named where a person looks: the
//! `INIT_START Runtime Version: … Runtime Version ARN: …` of each cold
//! start, shaped as Lambda's (`python:3.13.v16`) but naming the
//! interpreter's own version (`nodejs:20.20.2`), and the interpreter's
//! name in state reasons and the start-up summary (`Node.js 20.20.2`).

use sha2::{Digest, Sha256};

use crate::discovery::Language;
use crate::{clients, Launch, Resolved};

impl Launch {
    /// The interpreter that runs, by name and full version: `Node.js 20.20.2`.
    pub fn interpreter_name(&self) -> String {
        format!(
            "{} {}",
            self.interpreter.language.name(),
            self.interpreter.release
        )
    }

    /// INIT_START's runtime version: the language as Lambda names it there
    /// and the interpreter's full version (`nodejs:20.20.2`).
    pub fn runtime_version(&self) -> String {
        let family = match self.interpreter.language {
            Language::Python => "python",
            Language::Node => "nodejs",
            Language::Ruby => "ruby",
            Language::Java => "java",
        };
        format!("{family}:{}", self.interpreter.release)
    }
}

impl Resolved {
    /// INIT_START's runtime version for a function of `runtime`: the
    /// interpreter's (see [`Launch::runtime_version`]), or for a custom
    /// runtime Lambda's `provided:al2023` with this Ignis's version, which
    /// provides the environment (`provided:al2023.ignis-0.1.0`).
    pub fn runtime_version(&self, runtime: &str) -> String {
        match self {
            Self::Managed(launch) => launch.runtime_version(),
            Self::Custom => {
                let os = runtime.strip_prefix("provided.").unwrap_or("al1");
                format!("provided:{os}.ignis-{}", env!("CARGO_PKG_VERSION"))
            }
        }
    }

    /// INIT_START's runtime version ARN in `region`, as Lambda's
    /// (`arn:aws:lambda:us-east-1::runtime:<64 hex digits>`): the digits
    /// are a SHA-256 of what runs — runtime version, interpreter and
    /// Ignis's runtime client — so two environments share it exactly when
    /// they run the same.
    pub fn runtime_version_arn(&self, runtime: &str, region: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.runtime_version(runtime));
        if let Self::Managed(launch) = self {
            hash.update([0]);
            hash.update(launch.program.as_os_str().as_encoded_bytes());
            for source in clients::sources(launch.interpreter.language) {
                hash.update([0]);
                hash.update(source);
            }
        }
        let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("arn:aws:lambda:{region}::runtime:{digest}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::Interpreter;

    fn node(release: &str, path: &str) -> Resolved {
        Resolved::Managed(Launch {
            program: PathBuf::from(path),
            args: Vec::new(),
            env: Vec::new(),
            substitute: Some("nodejs20.x".into()),
            client_dir: None,
            interpreter: Interpreter {
                language: Language::Node,
                version: (20, 0),
                path: PathBuf::from(path),
                release: release.into(),
            },
        })
    }

    #[test]
    fn names_the_interpreter_that_runs() {
        let r = node("20.20.2", "/usr/bin/node");
        assert_eq!(r.runtime_version("nodejs22.x"), "nodejs:20.20.2");
        let Resolved::Managed(l) = &r else {
            unreachable!()
        };
        assert_eq!(l.interpreter_name(), "Node.js 20.20.2");
        assert_eq!(
            Resolved::Custom.runtime_version("provided.al2023"),
            format!("provided:al2023.ignis-{}", env!("CARGO_PKG_VERSION"))
        );
        assert!(Resolved::Custom
            .runtime_version("provided")
            .starts_with("provided:al1."));
    }

    #[test]
    fn the_arn_is_lambdas_shape_and_tells_interpreters_apart() {
        let arn = node("20.20.2", "/usr/bin/node").runtime_version_arn("nodejs22.x", "eu-west-1");
        let digits = arn
            .strip_prefix("arn:aws:lambda:eu-west-1::runtime:")
            .unwrap();
        assert_eq!(digits.len(), 64);
        assert!(digits.chars().all(|c| c.is_ascii_hexdigit()));
        let same = node("20.20.2", "/usr/bin/node").runtime_version_arn("nodejs20.x", "eu-west-1");
        assert_eq!(arn, same, "the same interpreter and client");
        for other in [
            node("20.20.3", "/usr/bin/node"),
            node("20.20.2", "/opt/node/bin/node"),
        ] {
            assert_ne!(other.runtime_version_arn("nodejs22.x", "eu-west-1"), arn);
        }
    }
}
