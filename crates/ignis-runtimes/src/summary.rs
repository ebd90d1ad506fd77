//! The runtimes part of `ignis serve`'s start-up summary: which managed
//! runtimes run on their own version here, which on a substitute (and on
//! which interpreter), and which cannot run.

use crate::{Catalog, RuntimeError};

impl Catalog {
    /// Lines for the start-up summary: `runtimes: python3.13 on Python
    /// 3.13.5, …`, then, when there are any, `runtimes substituted:
    /// nodejs22.x, nodejs24.x run on nodejs20.x (Node.js 20.20.2 at
    /// /usr/bin/node); …` and `runtimes unavailable: ruby3.2, ruby3.3 (no
    /// Ruby interpreter is installed); …`. Custom runtimes (`provided.*`)
    /// always run and are not listed.
    pub fn summary(&self) -> Vec<String> {
        let mut exact = Vec::new();
        // (what runs, the runtimes it runs instead of them), first seen first.
        let mut substituted: Vec<(String, Vec<&str>)> = Vec::new();
        let mut unavailable: Vec<(String, Vec<&str>)> = Vec::new();
        let group =
            |groups: &mut Vec<(String, Vec<&'static str>)>, key: String, runtime| match groups
                .iter_mut()
                .find(|(k, _)| *k == key)
            {
                Some((_, runtimes)) => runtimes.push(runtime),
                None => groups.push((key, vec![runtime])),
            };
        for &runtime in ignis_model::runtime::KNOWN_RUNTIMES {
            match self.interpreter(runtime) {
                Ok(None) => {}
                Ok(Some((language, i, None))) => {
                    exact.push(format!("{runtime} on {} {}", language.name(), i.release));
                }
                Ok(Some((language, i, Some(actual)))) => {
                    let runs = format!(
                        "{actual} ({} {} at {})",
                        language.name(),
                        i.release,
                        i.path.display()
                    );
                    group(&mut substituted, runs, runtime);
                }
                Err(e) => group(&mut unavailable, why(&e), runtime),
            }
        }
        let mut lines = vec![format!(
            "runtimes: {}",
            if exact.is_empty() {
                "no managed runtime runs on its own version here".to_string()
            } else {
                exact.join(", ")
            }
        )];
        if !substituted.is_empty() {
            let parts: Vec<String> = substituted
                .iter()
                .map(|(runs, rts)| {
                    let verb = if rts.len() == 1 { "runs" } else { "run" };
                    format!("{} {verb} on {runs}", rts.join(", "))
                })
                .collect();
            lines.push(format!("runtimes substituted: {}", parts.join("; ")));
        }
        if !unavailable.is_empty() {
            let parts: Vec<String> = unavailable
                .iter()
                .map(|(why, rts)| format!("{} ({why})", rts.join(", ")))
                .collect();
            lines.push(format!("runtimes unavailable: {}", parts.join("; ")));
        }
        lines
    }
}

/// Why a runtime cannot run, without its name (the summary groups them).
fn why(e: &RuntimeError) -> String {
    match e {
        RuntimeError::NotInstalled { language, .. } => {
            format!("no {language} interpreter is installed")
        }
        RuntimeError::Strict { nearest, .. } => {
            format!("not installed; nearest {nearest}, refused by --strict-runtimes")
        }
        RuntimeError::Unsupported(_) => "not supported by Ignis yet".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Catalog, Interpreter, Language};

    fn interp(language: Language, version: (u32, u32), release: &str, path: &str) -> Interpreter {
        Interpreter {
            language,
            version,
            path: path.into(),
            release: release.into(),
        }
    }

    #[test]
    fn says_what_runs_on_a_substitute_and_what_cannot_run() {
        let dir = tempfile::tempdir().unwrap();
        let found = vec![
            interp(Language::Node, (20, 0), "20.20.2", "/usr/bin/node"),
            interp(Language::Python, (3, 13), "3.13.5", "/usr/bin/python3.13"),
        ];
        let lines = Catalog::with_interpreters(dir.path(), false, found.clone()).summary();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(
            lines[0],
            "runtimes: nodejs20.x on Node.js 20.20.2, python3.13 on Python 3.13.5"
        );
        assert!(lines[1].starts_with(
            "runtimes substituted: nodejs18.x, nodejs22.x, nodejs24.x run on nodejs20.x (Node.js 20.20.2 at /usr/bin/node); python3.9,"
        ), "{}", lines[1]);
        assert!(lines[2].contains("ruby3.2, ruby3.3, ruby3.4 (no Ruby interpreter is installed)"));
        assert!(lines[2].contains("dotnet8, dotnet10 (not supported by Ignis yet)"));
        assert!(!lines.join("\n").contains("provided"));

        let strict = Catalog::with_interpreters(dir.path(), true, found).summary();
        assert!(!strict.iter().any(|l| l.starts_with("runtimes substituted")));
        assert!(
            strict[1].contains(
                "nodejs18.x, nodejs22.x, nodejs24.x (not installed; nearest nodejs20.x, refused by --strict-runtimes)"
            ),
            "{strict:#?}"
        );
    }
}
