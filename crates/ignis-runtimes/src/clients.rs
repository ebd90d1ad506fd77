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

/// The Python client compiled for Python `version`, beside its source:
/// named after the source's hash, so a new client never runs an old
/// file's bytecode.
pub fn python_bytecode(version: (u32, u32)) -> String {
    // Hashed once: every cold start of a Python function names the file.
    static SHORT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let short = SHORT.get_or_init(|| {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(PYTHON.as_bytes());
        hash.iter().take(4).map(|b| format!("{b:02x}")).collect()
    });
    format!("bootstrap.{short}.{}.{}.pyc", version.0, version.1)
}

/// Compiles the Python client once per interpreter version into `dir` (the
/// clients directory's `python`), each interpreter in a process of its
/// own, all at once: Python otherwise compiles the 1,100-line script it is
/// given at every start (about 9.5 ms of a cold start's CPU, measured
/// here), and the read-only `/var/runtime` never caches it. The code
/// objects name `/var/runtime/bootstrap.py` as their file (where the
/// `namespace` sandbox shows the source), which the client's own frames
/// are recognised by. A failure leaves the script to run as before.
pub fn compile_python(dir: &Path, interpreters: &[Interpreter]) {
    const COMPILE: &str = "import py_compile, sys; py_compile.compile(sys.argv[1], \
        cfile=sys.argv[2], dfile=sys.argv[3], doraise=True, \
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)";
    let source = dir.join("bootstrap.py");
    let children: Vec<_> = interpreters
        .iter()
        .filter(|i| i.language == Language::Python)
        .filter_map(|i| {
            let out = dir.join(python_bytecode(i.version));
            if out.is_file() {
                return None;
            }
            let child = std::process::Command::new(&i.path)
                .args(["-S", "-c", COMPILE])
                .arg(&source)
                .arg(&out)
                .arg("/var/runtime/bootstrap.py")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn();
            Some((i.path.clone(), child))
        })
        .collect();
    for (path, child) in children {
        match child.and_then(|c| c.wait_with_output()) {
            Ok(out) if out.status.success() => {}
            Ok(out) => tracing::warn!(
                interpreter = %path.display(),
                stderr = %String::from_utf8_lossy(&out.stderr),
                "failed to compile the Python runtime client; it runs from source"
            ),
            Err(e) => {
                tracing::warn!(interpreter = %path.display(), error = %e, "failed to compile the Python runtime client; it runs from source")
            }
        }
    }
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
        // Its bytecode for this interpreter when compiled (see
        // [`compile_python`]).
        Language::Python => {
            let compiled = python_bytecode(interpreter.version);
            let script = match &host {
                Some(dir) if dir.join(&compiled).is_file() => {
                    seen.join(compiled).display().to_string()
                }
                _ => script(language),
            };
            vec!["-S".into(), "-u".into(), script]
        }
        // The Node client builds NODE_PATH from IGNIS_OPT_DIR in Lambda's
        // order; the Ruby client its load and gem paths.
        Language::Node | Language::Ruby => vec![script(language)],
        // The client builds the function's class loader (task root, lib/*.jar,
        // layers) itself. The JVM's defaults come from a settings file the
        // function's JAVA_TOOL_OPTIONS can override (see java::FLAGS); with
        // the client's class data sharing archive for this JDK when there
        // is one (see java_cds), which needs the jar at the path it was
        // recorded with.
        Language::Java => {
            // Lambda's en_US.UTF-8 is not installed everywhere; without a
            // UTF-8 locale Java's default charset is ASCII.
            env.push(("LANG".to_string(), "C.UTF-8".to_string()));
            java_args(host.as_deref(), &seen, interpreter)
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

/// The JVM's arguments: the settings file (the archive's when it is there
/// and the client is seen where it was recorded), the class path (the jar,
/// else the classes directory of an older compile) and the main class.
fn java_args(host: Option<&Path>, seen: &Path, interpreter: &Interpreter) -> Vec<String> {
    let has = |name: &str| host.is_some_and(|h| h.join(name).is_file());
    let mut args = Vec::with_capacity(6);
    let archive = host
        .filter(|_| seen == Path::new(crate::java_cds::SEEN_AT))
        .and_then(|h| crate::java_cds::flags(h, interpreter));
    match archive {
        Some(flags) => {
            args.push(format!("-XX:Flags={}", seen.join(flags).display()));
            args.push(crate::java_cds::QUIET.to_string());
        }
        None if has(crate::java::FLAGS) => {
            args.push(format!(
                "-XX:Flags={}",
                seen.join(crate::java::FLAGS).display()
            ));
        }
        None => {
            args.extend(["-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1"].map(String::from))
        }
    }
    let classpath = if has(crate::java::JAR) {
        seen.join(crate::java::JAR)
    } else {
        seen.to_path_buf()
    };
    args.push("-cp".to_string());
    args.push(classpath.display().to_string());
    args.push(crate::java::MAIN_CLASS.to_string());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_client_runs_from_its_bytecode_once_compiled() {
        let python = crate::discovery::find(&[], &crate::discovery::search_dirs(Path::new("/")))
            .into_iter()
            .find(|i| i.language == Language::Python)
            .expect("a Python interpreter (the test suite runs on python3)");
        let dir = tempfile::tempdir().unwrap();
        install(dir.path()).unwrap();
        let files = ClientFiles {
            dir: dir.path(),
            java_classes: None,
            seen_at: Some(Path::new("/var/runtime")),
        };
        let before = launch(Language::Python, &python, &files, Path::new("/opt"), None);
        assert_eq!(before.args.last().unwrap(), "/var/runtime/bootstrap.py");
        compile_python(&dir.path().join("python"), std::slice::from_ref(&python));
        let compiled = python_bytecode(python.version);
        assert!(dir.path().join("python").join(&compiled).is_file());
        let after = launch(Language::Python, &python, &files, Path::new("/opt"), None);
        assert_eq!(
            after.args,
            ["-S", "-u", &format!("/var/runtime/{compiled}")].map(String::from)
        );
        // It runs: the interpreter executes the bytecode file directly, and
        // the client's frames name its source.
        let out = std::process::Command::new(&python.path)
            .args(["-S", "-c"])
            .arg(
                "import marshal, sys; f = open(sys.argv[1], 'rb'); f.read(16); \
                 print(marshal.load(f).co_filename)",
            )
            .arg(dir.path().join("python").join(&compiled))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "/var/runtime/bootstrap.py"
        );
        // Another client's source gets another name.
        assert!(compiled.starts_with("bootstrap.") && compiled.ends_with(".pyc"));
    }
}
