//! A class data sharing archive of the Java client, one per JDK: the
//! classes a cold start loads before the function's own (the client's from
//! its jar, and the JDK's the base archive lacks: sockets, reflection's
//! generic types, the lambda forms) recorded once, mapped by every later
//! start instead of parsed, verified and linked again.
//!
//! The archive is recorded in the background after the client is compiled
//! (a dynamic archive, `-XX:ArchiveClassesAtExit`, of a training run: the
//! client serving one invocation of its own [`TRAINING_HANDLER`] from a
//! Runtime API of ours), then checked by a second run that must map it
//! (`-Xshare:on`) and load the client's classes from it, and only then put
//! in place, with a `-XX:Flags=` settings file naming it. A JVM uses an
//! archive only with the class path it was recorded with, so both runs see
//! the client where the `namespace` sandbox shows it, [`SEEN_AT`], in a
//! mount namespace of their own. Anything failing leaves no archive, and
//! the client starts without one. A JDK that changed under an archive
//! (another build at the same path) refuses it and starts without it too:
//! its warning is silenced (see [`QUIET`]).
//!
//! A function's classes never go into the archive: the training run loads
//! none (its task root is the client's directory, its layer directory an
//! empty one).

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::discovery::Interpreter;
use crate::java::{FLAGS, JAR, MAIN_CLASS};

/// Where the `namespace` sandbox shows the client, the only place an
/// archive is recorded for.
pub const SEEN_AT: &str = "/var/runtime";

/// The handler of the training run, compiled with the client but not in
/// its jar: the training run's task root is the client's directory, and
/// the handler loads from there the way a function's loads from its code.
pub const TRAINING_HANDLER: &str = "ignis.training.Training::handle";

/// Options that keep a refused archive quiet: the JVM warns on stdout,
/// which is the function's log.
pub const QUIET: &str = "-Xlog:cds=off,cds+dynamic=off";

/// How long one run of the client may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The event the training run's handler gets: every JSON type.
const EVENT: &[u8] = br#"{"ignis":"training","numbers":[1,-2.5,3e2],"flags":[true,false,null],"nested":{"list":["a","\u00e9"],"empty":{}}}"#;

/// What the handler's answer, the event written again, must hold.
const ECHOED: &str = r#""ignis":"training""#;

/// The name of `interpreter`'s archive and settings file (without their
/// extensions): its release and where it is, so that another JDK never
/// meets an archive of this one.
pub fn name(interpreter: &Interpreter) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(interpreter.path.as_os_str().as_encoded_bytes());
    let short: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let release: String = interpreter
        .release
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("cds-{release}-{short}")
}

/// The settings file naming `interpreter`'s archive in the client's
/// directory `classes`, when the archive is there whole: the settings file
/// records its size (a JVM given a cut archive crashes rather than start
/// without it; one that does not match its JDK or class path, it refuses).
pub fn flags(classes: &Path, interpreter: &Interpreter) -> Option<String> {
    let name = name(interpreter);
    let settings = std::fs::read_to_string(classes.join(format!("{name}.flags"))).ok()?;
    let recorded: u64 = settings
        .lines()
        .next()?
        .strip_prefix(SIZE_LINE)?
        .trim()
        .parse()
        .ok()?;
    let actual = std::fs::metadata(classes.join(format!("{name}.jsa"))).ok()?;
    (actual.is_file() && actual.len() == recorded).then(|| format!("{name}.flags"))
}

/// How the settings file's first line, a comment to the JVM, starts.
const SIZE_LINE: &str = "# archive bytes: ";

/// Options the archive's settings file adds to the defaults: the archive
/// mapped where it was recorded to be mapped. The JDK 17 updates relocate
/// CDS archives to a random address by default, which writes a pointer
/// into most of their pages at every start (about 1,900 more page faults
/// of a `java -version`, measured here: copies of the archive's pages);
/// the function sees no difference but the addresses in its memory map,
/// and may ask for relocation again with `JAVA_TOOL_OPTIONS`
/// (`-XX:ArchiveRelocationMode=1`). Only the archive's settings carry it:
/// it is a diagnostic option, checked to exist with this JDK by the run
/// that checks the archive.
pub const ARCHIVE_FLAGS: &str = "+UnlockDiagnosticVMOptions\nArchiveRelocationMode=0\n";

/// Records, checks and installs `interpreter`'s archive of the client in
/// `classes`, unless it is there already.
pub fn prepare(interpreter: &Interpreter, classes: &Path) -> Result<(), String> {
    if flags(classes, interpreter).is_some() {
        return Ok(());
    }
    let name = name(interpreter);
    remove_abandoned(classes, &name);
    let staging = format!("{name}.{}.staging", std::process::id());
    let flags_staging = format!("{staging}.flags");
    let result = record_and_check(interpreter, classes, &name, &staging, &flags_staging);
    if let Err(e) = result {
        let _ = std::fs::remove_file(classes.join(&staging));
        let _ = std::fs::remove_file(classes.join(&flags_staging));
        return Err(e);
    }
    // The archive first: the settings file is what says it is there.
    std::fs::rename(classes.join(&staging), classes.join(format!("{name}.jsa")))
        .and_then(|()| {
            std::fs::rename(
                classes.join(&flags_staging),
                classes.join(format!("{name}.flags")),
            )
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(classes.join(&staging));
            let _ = std::fs::remove_file(classes.join(&flags_staging));
            format!("failed to install the archive: {e}")
        })
}

/// Removes what recordings of processes that no longer run left (a server
/// killed while recording): `<name>.<pid>.staging` and its settings.
fn remove_abandoned(classes: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(classes) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(name)) else {
            continue;
        };
        let pid = rest
            .strip_prefix('.')
            .and_then(|r| r.split_once(".staging"))
            .map(|(pid, _)| pid);
        if let Some(pid) = pid.filter(|p| p.parse::<u32>().is_ok()) {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The training run, then the archive's settings file, then the run that
/// checks the archive with those settings.
fn record_and_check(
    interpreter: &Interpreter,
    classes: &Path,
    name: &str,
    staging: &str,
    flags_staging: &str,
) -> Result<(), String> {
    let archive = format!("{SEEN_AT}/{staging}");
    let defaults = format!("-XX:Flags={SEEN_AT}/{FLAGS}");
    run(
        interpreter,
        classes,
        &[
            defaults,
            "-XX:+UseSerialGC".to_string(),
            format!("-XX:ArchiveClassesAtExit={archive}"),
        ],
        false,
    )
    .map_err(|e| format!("the training run failed: {e}"))?;
    let size = std::fs::metadata(classes.join(staging))
        .map_err(|e| format!("the training run wrote no archive: {e}"))?
        .len();
    let settings = format!(
        "{SIZE_LINE}{size}\n{}{ARCHIVE_FLAGS}SharedArchiveFile={SEEN_AT}/{name}.jsa\n",
        crate::java::DEFAULT_FLAGS
    );
    std::fs::write(classes.join(flags_staging), settings)
        .map_err(|e| format!("failed to write the archive's settings: {e}"))?;
    run(
        interpreter,
        classes,
        &[
            format!("-XX:Flags={SEEN_AT}/{flags_staging}"),
            "-XX:+UseSerialGC".to_string(),
            "-Xshare:on".to_string(),
            "-XX:+VerifySharedSpaces".to_string(),
            // The archive under its staging name.
            format!("-XX:SharedArchiveFile={archive}"),
            "-Xlog:class+load=info:stdout".to_string(),
        ],
        true,
    )
    .map_err(|e| format!("the archive did not check: {e}"))
}

/// Runs the client once with `options`, seeing `classes` at [`SEEN_AT`],
/// serving it the training event; with `from_archive`, it must have loaded
/// its own classes from the archive.
fn run(
    interpreter: &Interpreter,
    classes: &Path,
    options: &[String],
    from_archive: bool,
) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&interpreter.path);
    cmd.args(options)
        .args(["-cp", &format!("{SEEN_AT}/{JAR}"), MAIN_CLASS])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("_HANDLER", TRAINING_HANDLER)
        .env("LAMBDA_TASK_ROOT", SEEN_AT)
        .env("IGNIS_OPT_DIR", "/var/opt")
        .env("AWS_LAMBDA_FUNCTION_NAME", "ignis-training")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(if from_archive {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    private_runtime_dir(&mut cmd, classes)?;
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let served = serve_one(listener, &mut child);
    let status = wait(&mut child);
    let stdout = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    let explain = |what: String| format!("{what} (stderr: {})", stderr.trim());
    let body = served.map_err(explain)?;
    status.map_err(explain)?;
    if !String::from_utf8_lossy(&body).contains(ECHOED) {
        return Err(explain(format!(
            "the handler answered {}",
            String::from_utf8_lossy(&body)
        )));
    }
    if from_archive {
        let shared = format!("{MAIN_CLASS} source: shared objects file");
        if !stdout.lines().any(|l| l.contains(&shared)) {
            return Err(explain(
                "the client's classes were not loaded from it".into(),
            ));
        }
    }
    Ok(())
}

fn child_deadline() -> Instant {
    Instant::now() + RUN_LIMIT
}

/// Reads a pipe to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// Waits for the client to exit (it does when the Runtime API goes away),
/// killing it past [`RUN_LIMIT`].
fn wait(child: &mut Child) -> Result<(), String> {
    let deadline = child_deadline();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("it did not exit".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Makes the child see `dir` at [`SEEN_AT`] (writable, for the archive),
/// with an empty `/var/opt`, in a mount namespace of its own:
/// a tmpfs over `/var` there, the host's untouched.
#[allow(unsafe_code)]
fn private_runtime_dir(cmd: &mut Command, dir: &Path) -> Result<(), String> {
    let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
    let source = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let here = c(".")?;
    let (root, var, tmpfs, options) = (c("/")?, c("/var")?, c("tmpfs")?, c("size=1m,mode=755")?);
    let runtime = c(SEEN_AT)?;
    let opt = c("/var/opt")?;
    let setup = move || -> std::io::Result<()> {
        let check = |rc: libc::c_int| {
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        let null = std::ptr::null();
        // SAFETY: plain system calls on C strings made before the fork.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                null,
                root.as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            // The directory is reached from inside before /var is covered
            // (it may be under /var), and bound from there.
            check(libc::chdir(source.as_ptr()))?;
            check(libc::mount(
                tmpfs.as_ptr(),
                var.as_ptr(),
                tmpfs.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            ))?;
            for d in [&runtime, &opt] {
                check(libc::mkdir(d.as_ptr(), 0o755))?;
            }
            check(libc::mount(
                here.as_ptr(),
                runtime.as_ptr(),
                null,
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
            check(libc::chdir(root.as_ptr()))?;
        }
        Ok(())
    };
    // SAFETY: the closure only makes system calls (no allocation, no locks).
    unsafe {
        cmd.pre_exec(setup);
    }
    Ok(())
}

/// The Runtime API of a training run: one invocation of [`EVENT`]; when the
/// client asks for the next, the API goes away (the listener first, so
/// that it cannot connect again) and the client exits. Returns the body it
/// posted as the response.
fn serve_one(listener: TcpListener, child: &mut Child) -> Result<Vec<u8>, String> {
    let deadline = child_deadline();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err("the client never connected".into());
                }
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("the client exited ({status}) before connecting"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(RUN_LIMIT))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let (line, _) = request(&mut reader)?;
    if !line.starts_with("GET /2018-06-01/runtime/invocation/next ") {
        return Err(format!("unexpected request {line}"));
    }
    let deadline_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + RUN_LIMIT.as_millis();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Aws-Request-Id: ignis-training\r\n\
         Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:ignis-training\r\n\
         Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
         Content-Length: {}\r\n\r\n",
        EVENT.len()
    );
    write(&mut writer, head.as_bytes())?;
    write(&mut writer, EVENT)?;
    let (line, body) = request(&mut reader)?;
    if !line.starts_with("POST /2018-06-01/runtime/invocation/ignis-training/response ") {
        return Err(format!(
            "unexpected request {line}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    write(
        &mut writer,
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    )?;
    // Its next /next: the end.
    let _ = request(&mut reader);
    drop(listener);
    Ok(body)
}

fn write(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    stream.write_all(bytes).map_err(|e| e.to_string())
}

/// One HTTP/1.1 request: its request line and body.
fn request(reader: &mut BufReader<TcpStream>) -> Result<(String, Vec<u8>), String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        let n = reader.read_line(&mut header).map_err(|e| e.to_string())?;
        let header = header.trim_end();
        if n == 0 || header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(|_| "bad Content-Length")?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok((line.trim_end().to_string(), body))
}

/// The path of `interpreter`'s archive in `classes` (tests).
#[cfg(test)]
pub fn archive_path(classes: &Path, interpreter: &Interpreter) -> PathBuf {
    classes.join(format!("{}.jsa", name(interpreter)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Language;

    /// The newest JDK with a `javac`, when this machine has one.
    fn jdk() -> Option<Interpreter> {
        let found = crate::discovery::find(&[], &crate::discovery::search_dirs(Path::new("/")));
        let java = found
            .into_iter()
            .filter(|i| i.language == Language::Java)
            .max_by_key(|i| i.version)?;
        let javac = std::fs::canonicalize(&java.path)
            .ok()?
            .with_file_name("javac");
        javac.is_file().then_some(java)
    }

    fn launch(classes: &Path, java: &Interpreter, seen: Option<&Path>) -> Vec<String> {
        let files = crate::clients::ClientFiles {
            dir: Path::new("/nonexistent"),
            java_classes: Some(classes),
            seen_at: seen,
        };
        crate::clients::launch(Language::Java, java, &files, Path::new("/opt"), None).args
    }

    #[test]
    #[ignore = "needs root (the training run's mount namespace) and a JDK: scripts/test.sh runs it as root with --ignored"]
    fn the_archive_is_recorded_checked_and_named_by_the_launch_while_whole() {
        let java = jdk().expect("a JDK with javac (scripts/test.sh installs one)");
        let dir = tempfile::tempdir().unwrap();
        let classes = crate::java::compile(&java.path, dir.path()).unwrap();
        let seen = Path::new(SEEN_AT);
        // Before the archive: the defaults' settings file and the jar.
        let plain = [
            "-XX:Flags=/var/runtime/jvm.flags",
            "-cp",
            "/var/runtime/ignis-runtime.jar",
            MAIN_CLASS,
        ]
        .map(String::from);
        assert_eq!(launch(&classes, &java, Some(seen)), plain);
        prepare(&java, &classes).unwrap();
        let settings = flags(&classes, &java).expect("the archive is ready");
        assert_eq!(
            launch(&classes, &java, Some(seen)),
            [
                format!("-XX:Flags=/var/runtime/{settings}"),
                QUIET.to_string(),
                "-cp".to_string(),
                "/var/runtime/ignis-runtime.jar".to_string(),
                MAIN_CLASS.to_string(),
            ]
        );
        let text = std::fs::read_to_string(classes.join(&settings)).unwrap();
        assert!(text.contains("TieredStopAtLevel=1\n"), "{text}");
        assert!(text.contains("ArchiveRelocationMode=0\n"), "{text}");
        assert!(
            text.contains(&format!(
                "SharedArchiveFile=/var/runtime/{}.jsa\n",
                name(&java)
            )),
            "{text}"
        );
        // Nothing of the training runs is left behind.
        let left: Vec<_> = std::fs::read_dir(&classes)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("staging"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // Seen elsewhere (the client at its host path), the archive is not
        // named: it holds the class path /var/runtime/ignis-runtime.jar.
        let host = launch(&classes, &java, None);
        assert_eq!(
            host[0],
            format!("-XX:Flags={}", classes.join("jvm.flags").display())
        );
        assert!(!host.contains(&QUIET.to_string()));
        // A cut archive is not named (the JVM would crash on it), and the
        // next preparation records it again.
        let archive = archive_path(&classes, &java);
        let whole = std::fs::metadata(&archive).unwrap().len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&archive)
            .unwrap();
        file.set_len(whole / 2).unwrap();
        assert_eq!(flags(&classes, &java), None);
        assert_eq!(launch(&classes, &java, Some(seen)), plain);
        prepare(&java, &classes).unwrap();
        assert_eq!(flags(&classes, &java), Some(settings));
    }

    #[test]
    fn what_killed_recordings_left_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let ours = std::process::id();
        let files = [
            "cds-17-x.4000000000.staging".to_string(),
            "cds-17-x.4000000000.staging.flags".to_string(),
            format!("cds-17-x.{ours}.staging"),
            "cds-17-x.jsa".to_string(),
            "cds-21-y.4000000000.staging".to_string(),
        ];
        for f in &files {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        remove_abandoned(dir.path(), "cds-17-x");
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [files[2].clone(), files[3].clone(), files[4].clone()]);
    }

    #[test]
    fn archive_names_differ_by_jdk_release_and_path() {
        let jdk = |path: &str, release: &str| Interpreter {
            language: Language::Java,
            version: (17, 0),
            path: path.into(),
            release: release.into(),
        };
        let a = name(&jdk("/usr/lib/jvm/java-17/bin/java", "17.0.15"));
        assert!(a.starts_with("cds-17.0.15-"), "{a}");
        assert_ne!(a, name(&jdk("/usr/lib/jvm/java-17/bin/java", "17.0.16")));
        assert_ne!(a, name(&jdk("/opt/jdk/bin/java", "17.0.15")));
        assert_eq!(
            name(&jdk("/x", "21+35 ea")),
            format!("cds-21_35_ea-{}", &name(&jdk("/x", "1"))[6..])
        );
    }
}
