//! Ignis's own runtime clients, one per language, shipped inside the binary
//! and written out once at start-up; and the command that starts each.

use std::path::Path;

use crate::discovery::{Interpreter, Language};
use crate::Launch;

const PYTHON: &str = include_str!("../../../runtimes/python/bootstrap.py");
const NODE: &str = include_str!("../../../runtimes/node/bootstrap.js");
const RUBY: &str = include_str!("../../../runtimes/ruby/bootstrap.rb");

/// The client of a scripting language: its directory under the clients
/// directory, its file name and its source. Each language has a directory
/// of its own, which is all a sandbox shows the function (at
/// `/var/runtime` in the `namespace` sandbox).
fn file(language: Language) -> Option<(&'static str, &'static str, &'static str)> {
    match language {
        Language::Python => Some(("python", "bootstrap.py", PYTHON)),
        Language::Node => Some(("node", "bootstrap.js", NODE)),
        Language::Ruby => Some(("ruby", "bootstrap.rb", RUBY)),
        Language::Java => None,
    }
}

/// The sources of a language's client (what its runtime version ARN hashes).
pub fn sources(language: Language) -> Vec<&'static str> {
    match file(language) {
        Some((_, _, source)) => vec![source],
        None => crate::java::SOURCES.iter().map(|(_, s)| *s).collect(),
    }
}

/// Writes every client under `dir` (atomically, so a running environment
/// never reads half a file).
pub fn install(dir: &Path) -> std::io::Result<()> {
    for (sub, name, source) in [Language::Python, Language::Node, Language::Ruby]
        .into_iter()
        .filter_map(file)
    {
        let path = dir.join(sub).join(name);
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

/// Where a runtime's client files are: on the host (`dir`, the clients
/// directory; `java_classes` for Java) and where the function sees them
/// (`seen_at` when the sandbox shows them at a fixed place, else the host
/// directory).
pub struct ClientFiles<'a> {
    /// The clients directory.
    pub dir: &'a Path,
    /// The compiled Java client.
    pub java_classes: Option<&'a Path>,
    /// Where the sandbox shows a client's directory, if not at its host path.
    pub seen_at: Option<&'a Path>,
}

/// The command that runs `interpreter` with its client.
pub fn launch(
    language: Language,
    interpreter: &Interpreter,
    files: &ClientFiles<'_>,
    opt_dir: &Path,
    substitute: Option<String>,
) -> Launch {
    let host = match file(language) {
        Some((sub, _, _)) => Some(files.dir.join(sub)),
        None => files.java_classes.map(Path::to_path_buf),
    };
    let seen = files
        .seen_at
        .map(Path::to_path_buf)
        .or_else(|| host.clone())
        .unwrap_or_default();
    let script = |language| {
        seen.join(file(language).map_or("", |f| f.1))
            .display()
            .to_string()
    };
    let mut env = vec![("IGNIS_OPT_DIR".to_string(), opt_dir.display().to_string())];
    let args = match language {
        // -S: no host site-packages (the client puts the code and layers on
        // sys.path); -u: print reaches the log unbuffered.
        Language::Python => vec!["-S".into(), "-u".into(), script(language)],
        // The Node client builds NODE_PATH from IGNIS_OPT_DIR in Lambda's
        // order; the Ruby client its load and gem paths.
        Language::Node | Language::Ruby => vec![script(language)],
        // The client builds the function's class loader (task root, lib/*.jar,
        // layers) itself; C1 only and class data sharing start the JVM fastest.
        Language::Java => {
            // Lambda's en_US.UTF-8 is not installed everywhere; without a
            // UTF-8 locale Java's default charset is ASCII.
            env.push(("LANG".to_string(), "C.UTF-8".to_string()));
            let classes = seen.display().to_string();
            [
                "-XX:+TieredCompilation",
                "-XX:TieredStopAtLevel=1",
                "-Xshare:auto",
                "-cp",
                &classes,
                crate::java::MAIN_CLASS,
            ]
            .map(String::from)
            .to_vec()
        }
    };
    Launch {
        program: interpreter.path.clone(),
        args,
        env,
        substitute,
        client_dir: host,
        interpreter: interpreter.clone(),
    }
}
