//! Ignis's own runtime clients, one per language, shipped inside the binary
//! and written out once at start-up; and the command that starts each.

use std::path::{Path, PathBuf};

use crate::discovery::{Interpreter, Language};
use crate::Launch;

const PYTHON: &str = include_str!("../../../runtimes/python/bootstrap.py");
const NODE: &str = include_str!("../../../runtimes/node/bootstrap.js");
const RUBY: &str = include_str!("../../../runtimes/ruby/bootstrap.rb");

fn file(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::Python => ("python/bootstrap.py", PYTHON),
        Language::Node => ("node/bootstrap.js", NODE),
        Language::Ruby => ("ruby/bootstrap.rb", RUBY),
    }
}

/// Writes every client under `dir` (atomically, so a running environment
/// never reads half a file).
pub fn install(dir: &Path) -> std::io::Result<()> {
    for language in [Language::Python, Language::Node, Language::Ruby] {
        let (rel, source) = file(language);
        let path = dir.join(rel);
        if std::fs::read_to_string(&path).is_ok_and(|s| s == source) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, source)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// The command that runs `interpreter` with its client.
pub fn launch(
    language: Language,
    interpreter: &Interpreter,
    dir: &Path,
    opt_dir: &Path,
    substitute: Option<String>,
) -> Launch {
    let client: PathBuf = dir.join(file(language).0);
    let args = match language {
        // -S: no host site-packages (the client puts the code and layers on
        // sys.path); -u: print reaches the log unbuffered.
        Language::Python => vec!["-S".into(), "-u".into(), client.display().to_string()],
        // The client builds NODE_PATH from IGNIS_OPT_DIR in Lambda's order.
        Language::Node | Language::Ruby => vec![client.display().to_string()],
    };
    let env = vec![("IGNIS_OPT_DIR".to_string(), opt_dir.display().to_string())];
    Launch {
        program: interpreter.path.clone(),
        args,
        env,
        substitute,
    }
}
