//! The handler `ignis deploy` uses when `--handler` is not given, only
//! when the package says it without doubt: `bootstrap` for a custom
//! runtime (`provided.*`); for Python the one function taking
//! `(event, context)` in the package's only top-level `.py` file; for
//! Node.js the one function exported by its only top-level `.js`, `.mjs` or
//! `.cjs` file. Anything else is refused with a line naming `--handler`,
//! rather than deploying a function whose first invoke fails with
//! `Runtime.MalformedHandlerName`.

use std::io::{Cursor, Read};

/// Source files larger than this are not read for a handler.
const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// Names preferred when a file defines several candidates.
const USUAL_NAMES: [&str; 3] = ["handler", "lambda_handler", "main"];

/// Why the handler could not be told; each message ends naming `--handler`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandlerError {
    /// The runtime's handler cannot be read from the code (Java, Ruby, .NET).
    #[error("ignis deploy cannot tell the handler of a {0} function; pass --handler")]
    Runtime(String),
    /// Not exactly one source file at the top of the package.
    #[error("cannot tell the handler: the package has {count} {kinds} files at its top{listed}; pass --handler FILE.FUNCTION")]
    Files {
        /// How many.
        count: usize,
        /// `.py`, or `.js/.mjs/.cjs`.
        kinds: &'static str,
        /// ` (a.py, b.py)`, or empty.
        listed: String,
    },
    /// Not exactly one obvious handler in the file.
    #[error("cannot tell the handler: {file} {found}; pass --handler {module}.FUNCTION")]
    Functions {
        /// The source file.
        file: String,
        /// What was found in it.
        found: String,
        /// The file's module name.
        module: String,
    },
    /// The package is not a zip that can be read.
    #[error("cannot tell the handler: the package cannot be read ({0}); pass --handler")]
    Unreadable(String),
}

/// Where a language's handlers are: source files ending in `extensions`
/// (`kinds`, for people), and the function that lists a file's candidates.
#[derive(Clone, Copy)]
struct Finder {
    extensions: &'static [&'static str],
    kinds: &'static str,
    find: fn(&str) -> Vec<String>,
}

const PYTHON: Finder = Finder {
    extensions: &[".py"],
    kinds: ".py",
    find: python_handlers,
};

const NODE: Finder = Finder {
    extensions: &[".js", ".mjs", ".cjs"],
    kinds: ".js/.mjs/.cjs",
    find: node_handlers,
};

/// The handler of a `runtime` function whose package is `zip`.
pub fn infer(runtime: &str, zip: &[u8]) -> Result<String, HandlerError> {
    let finder = if runtime.starts_with("provided") {
        return Ok("bootstrap".to_string());
    } else if runtime.starts_with("python") {
        PYTHON
    } else if runtime.starts_with("nodejs") {
        NODE
    } else {
        return Err(HandlerError::Runtime(runtime.to_string()));
    };
    let (file, source) = only_top_level_source(zip, finder.extensions, finder.kinds)?;
    let module = file
        .rsplit_once('.')
        .map_or(file.as_str(), |(stem, _)| stem)
        .to_string();
    let candidates = (finder.find)(&source);
    let chosen = match candidates.as_slice() {
        [one] => Some(one.clone()),
        _ => {
            let usual: Vec<&String> = candidates
                .iter()
                .filter(|c| USUAL_NAMES.contains(&c.as_str()))
                .collect();
            match usual.as_slice() {
                [one] => Some((*one).clone()),
                _ => None,
            }
        }
    };
    match chosen {
        Some(function) => Ok(format!("{module}.{function}")),
        None => Err(HandlerError::Functions {
            found: if candidates.is_empty() {
                if runtime.starts_with("python") {
                    "defines no function taking (event, context)".to_string()
                } else {
                    "exports no function".to_string()
                }
            } else {
                format!(
                    "has {} candidates ({})",
                    candidates.len(),
                    candidates.join(", ")
                )
            },
            file,
            module,
        }),
    }
}

/// The name and text of the package's only top-level file ending in one of
/// `extensions`.
fn only_top_level_source(
    zip: &[u8],
    extensions: &[&str],
    kinds: &'static str,
) -> Result<(String, String), HandlerError> {
    let unreadable = |e: zip::result::ZipError| HandlerError::Unreadable(e.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(unreadable)?;
    let mut sources: Vec<String> = archive
        .file_names()
        .filter(|n| !n.contains('/') && extensions.iter().any(|e| n.ends_with(e)))
        .map(str::to_string)
        .collect();
    sources.sort();
    let [name] = sources.as_slice() else {
        let listed = if sources.is_empty() {
            String::new()
        } else {
            format!(" ({})", sources.join(", "))
        };
        return Err(HandlerError::Files {
            count: sources.len(),
            kinds,
            listed,
        });
    };
    let entry = archive.by_name(name).map_err(unreadable)?;
    let mut bytes = Vec::new();
    entry
        .take(MAX_SOURCE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| HandlerError::Unreadable(e.to_string()))?;
    Ok((name.clone(), String::from_utf8_lossy(&bytes).into_owned()))
}

/// Top-level `def NAME(a, b)` of a Python file: functions Lambda can call
/// with `(event, context)`.
fn python_handlers(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("def ") else {
            continue;
        };
        let Some((name, params)) = rest.split_once('(') else {
            continue;
        };
        let Some((params, _)) = params.split_once(')') else {
            continue;
        };
        let params: Vec<&str> = params
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let plain = params
            .iter()
            .all(|p| !p.starts_with('*') && !p.contains('='));
        if params.len() == 2 && plain && is_identifier(name.trim()) {
            found.push(name.trim().to_string());
        }
    }
    found
}

/// Functions a Node.js file exports at its top level: `export [async]
/// function NAME`, and `export const NAME =`, `exports.NAME =`,
/// `module.exports.NAME =` given a function (`async`, `function`, an arrow).
fn node_handlers(source: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in source.lines() {
        let Some(name) = node_export(line) else {
            continue;
        };
        if !found.iter().any(|f| f == name) {
            found.push(name.to_string());
        }
    }
    found
}

/// The function a line exports, if it does.
fn node_export(line: &str) -> Option<&str> {
    let (name, value) = if let Some(rest) = line.strip_prefix("export ") {
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("async ").unwrap_or(rest).trim_start();
        if let Some(f) = rest.strip_prefix("function") {
            let name = f.trim_start().trim_start_matches('*').trim_start();
            (name, None)
        } else {
            let binding = ["const ", "let ", "var "]
                .iter()
                .find_map(|k| rest.strip_prefix(k))?;
            let (name, value) = binding.split_once('=')?;
            (name, Some(value))
        }
    } else {
        let rest = ["module.exports.", "exports."]
            .iter()
            .find_map(|k| line.strip_prefix(k))?;
        let (name, value) = rest.split_once('=')?;
        (name, Some(value))
    };
    let name = name.trim_start();
    let end = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(name.len());
    let name = &name[..end];
    let is_function = value.is_none_or(|v| {
        let v = v.trim_start();
        v.starts_with("async") || v.starts_with("function") || v.contains("=>")
    });
    (is_identifier(name) && is_function).then_some(name)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn custom_runtimes_run_bootstrap() {
        assert_eq!(
            infer("provided.al2023", b"not even a zip"),
            Ok("bootstrap".into())
        );
    }

    #[test]
    fn python_the_one_function_taking_event_and_context() {
        let source = "import json\n\ndef helper(x):\n    return x\n\ndef main(event, context):\n    return 1\n\nclass A:\n    def m(self, b):\n        pass\n";
        let code = zip(&[("app.py", source), ("lib/util.py", "def f(a, b): pass\n")]);
        assert_eq!(infer("python3.13", &code), Ok("app.main".into()));
        // Two candidates, one with a usual name.
        let two =
            "def lambda_handler(event, context):\n    pass\ndef add(a, b):\n    return a + b\n";
        assert_eq!(
            infer("python3.12", &zip(&[("fn.py", two)])),
            Ok("fn.lambda_handler".into())
        );
    }

    #[test]
    fn python_refuses_when_in_doubt() {
        let two = "def a(event, context):\n    pass\ndef b(event, context):\n    pass\n";
        let err = infer("python3.13", &zip(&[("fn.py", two)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tell the handler: fn.py has 2 candidates (a, b); pass --handler fn.FUNCTION"
        );
        let err = infer("python3.13", &zip(&[("a.py", ""), ("b.py", "")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tell the handler: the package has 2 .py files at its top (a.py, b.py); pass --handler FILE.FUNCTION"
        );
        let err = infer("python3.13", &zip(&[("README.md", "")])).unwrap_err();
        assert!(
            err.to_string().contains("has 0 .py files at its top;"),
            "{err}"
        );
        let none = "def helper(x, *args):\n    pass\n";
        let err = infer("python3.13", &zip(&[("fn.py", none)])).unwrap_err();
        assert!(err
            .to_string()
            .contains("defines no function taking (event, context)"));
    }

    #[test]
    fn node_the_one_exported_function() {
        for (file, source) in [
            (
                "index.mjs",
                "const x = 1;\nexport const handler = async (event) => x;\n",
            ),
            ("index.js", "exports.handler = async function (event) {};\n"),
            ("index.js", "module.exports.handler = (e, c, cb) => cb();\n"),
            ("index.mjs", "export async function handler(event) {}\n"),
        ] {
            let code = zip(&[(file, source), ("package.json", "{}")]);
            assert_eq!(
                infer("nodejs22.x", &code),
                Ok("index.handler".into()),
                "{source}"
            );
        }
        let two = "export const a = 1;\nexport function b() {}\nexport const c = (e) => e;\n";
        let err = infer("nodejs20.x", &zip(&[("app.js", two)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tell the handler: app.js has 2 candidates (b, c); pass --handler app.FUNCTION"
        );
        let none = "module.exports = { handler };\n";
        let err = infer("nodejs20.x", &zip(&[("app.js", none)])).unwrap_err();
        assert!(
            err.to_string().contains("app.js exports no function"),
            "{err}"
        );
    }

    #[test]
    fn other_runtimes_need_the_flag() {
        let err = infer("java21", &zip(&[("a.jar", "")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ignis deploy cannot tell the handler of a java21 function; pass --handler"
        );
        assert!(matches!(
            infer("python3.13", b"not a zip"),
            Err(HandlerError::Unreadable(_))
        ));
    }
}
