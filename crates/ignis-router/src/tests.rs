//! Router tests with shell-script bootstraps speaking the Runtime API via
//! bash's /dev/tcp (no curl needed).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ignis_sandbox::process::ProcessSandbox;
use ignis_sandbox::{EnvProcess, ExitInfo, LaunchSpec, Launched, Sandbox, SandboxError};
use ignis_test_support::function;
use tokio::sync::watch;

use crate::{FunctionSpec, InvokeError, InvokeInput, Router};

/// A bash runtime: reads /next with /dev/tcp, answers with `$REPLY_CMD`.
const RUNTIME: &str = r#"#!/bin/bash
set -u
host=${AWS_LAMBDA_RUNTIME_API%:*}; port=${AWS_LAMBDA_RUNTIME_API#*:}
count=0
req() { # method path body -> prints response head+body
  exec 3<>/dev/tcp/$host/$port
  printf '%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "$2" "${#3}" "$3" >&3
  cat <&3; exec 3>&-
}
while true; do
  resp=$(req GET /2018-06-01/runtime/invocation/next "")
  id=$(printf '%s' "$resp" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  body=${resp##*$'\r\n\r\n'}
  count=$((count+1))
  echo "handling $id"
  case "$body" in
    *toolarge*)
      req POST /2018-06-01/runtime/invocation/$id/response "$(head -c 6291557 /dev/zero | tr '\0' x)" >/dev/null
      sleep 3; echo "after 413 $id"; continue ;;
    *sleep*) sleep 5 ;;
    *exit*) exit 7 ;;
    *oom*) kill -KILL $$ ;;
  esac
  req POST /2018-06-01/runtime/invocation/$id/response "{\"count\":$count,\"pid\":$$}" >/dev/null
  case "$body" in
    *linger*) sleep 0.3; echo "lingered $id" ;;
    *overrun*) sleep 3; echo "overran $id" ;;
    *busy*) sleep 1.5; echo "worked on $id" ;;
    *quit*) echo "quitting $id"; exit 0 ;;
  esac
done
"#;

fn setup(dir: &Path, budget_mb: u64) -> Arc<Router> {
    setup_with(dir, budget_mb, Arc::new(ProcessSandbox))
}

fn setup_with(dir: &Path, budget_mb: u64, sandbox: Arc<dyn Sandbox>) -> Arc<Router> {
    crate::testing::script_router(
        dir,
        RUNTIME,
        budget_mb,
        sandbox,
        function("f").timeout(2).build(),
    )
}

fn input(payload: &'static str) -> InvokeInput {
    InvokeInput {
        function: "f".into(),
        qualifier: None,
        payload: Bytes::from_static(payload.as_bytes()),
        client_context: None,
        invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        request_id: None,
        tail: true,
        trace_id: None,
    }
}

fn count(c: &crate::Completed) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&c.payload).unwrap();
    v["count"].as_u64().unwrap()
}

#[tokio::test]
async fn warm_reuse_then_timeout_then_fresh_environment() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let first = router.invoke(input("{}")).await.unwrap();
    assert!(!first.function_error, "{:?}", first.payload);
    let log = String::from_utf8(first.log.clone()).unwrap();
    assert!(
        log.contains("START RequestId:") && log.contains("handling"),
        "{log}"
    );
    assert!(log.contains("Init Duration:"), "{log}");
    let second = router.invoke(input("{}")).await.unwrap();
    assert_eq!((count(&first), count(&second)), (1, 2));
    assert!(!String::from_utf8(second.log)
        .unwrap()
        .contains("Init Duration"));

    let timed_out = router.invoke(input(r#"{"sleep":1}"#)).await.unwrap();
    assert!(timed_out.function_error);
    let body = String::from_utf8(timed_out.payload.to_vec()).unwrap();
    assert!(body.contains("Task timed out after 2.00 seconds"), "{body}");
    let after = router.invoke(input("{}")).await.unwrap();
    assert_eq!(count(&after), 1);
}

#[tokio::test]
async fn without_tail_end_and_report_follow_the_answer_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut i = input("{}");
        i.tail = false;
        let done = router.invoke(i).await.unwrap();
        assert!(done.log.is_empty(), "no lines were asked for");
        ids.push(done.request_id);
    }
    // The last invocation's END and REPORT come from the task the router
    // spawned; the earlier ones' at the latest before the next START.
    let logs = router.logs().function("f");
    let mut lines: Vec<String> = Vec::new();
    for _ in 0..100 {
        let page = logs.read(0, 0, 1000, std::time::Duration::ZERO).await;
        lines = page.events.into_iter().map(|e| e.message).collect();
        if lines.iter().filter(|l| l.starts_with("REPORT ")).count() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let kinds: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let kind = l.split(' ').next()?;
            let id = ids.iter().position(|id| l.contains(id.as_str()))?;
            Some(format!("{kind} {id}"))
        })
        .collect();
    let mut want = Vec::new();
    for n in 0..3 {
        for kind in ["START", "handling", "END", "REPORT"] {
            want.push(format!("{kind} {n}"));
        }
    }
    assert_eq!(kinds, want, "{}", lines.join("\n"));
    let report = lines.iter().find(|l| l.starts_with("REPORT ")).unwrap();
    assert!(report.contains("Max Memory Used: "), "{report}");
    // One environment ran all three: one INIT_START, before everything.
    let inits: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("INIT_START "))
        .collect();
    assert_eq!(inits.len(), 1, "{}", lines.join("\n"));
    assert!(
        lines[0].starts_with("INIT_START Runtime Version: provided:al2023.ignis-")
            && lines[0].contains("\tRuntime Version ARN: arn:aws:lambda:"),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn the_invoke_phase_ends_when_the_runtime_asks_for_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    for tail in [true, false] {
        let mut i = input(r#"{"linger":1}"#);
        i.tail = tail;
        let done = router.invoke(i).await.unwrap();
        let id = done.request_id.clone();
        let logs = router.logs().function("f");
        let mut lines: Vec<String> = Vec::new();
        for _ in 0..200 {
            let page = logs.read(0, 0, 1000, std::time::Duration::ZERO).await;
            lines = page.events.into_iter().map(|e| e.message).collect();
            if lines
                .iter()
                .any(|l| l.starts_with(&format!("REPORT RequestId: {id}")))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let at = |prefix: String| {
            lines
                .iter()
                .position(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in\n{}", lines.join("\n")))
        };
        // Printed after the answer, before the next /next: still this
        // invocation's, and its time counts.
        assert!(at(format!("lingered {id}")) < at(format!("END RequestId: {id}")));
        let report = &lines[at(format!("REPORT RequestId: {id}"))];
        let ms: f64 = report
            .split("Duration: ")
            .nth(1)
            .and_then(|d| d.split(' ').next())
            .and_then(|d| d.parse().ok())
            .unwrap();
        assert!(ms >= 300.0, "{report}");
        if tail {
            let log = String::from_utf8(done.log).unwrap();
            assert!(log.contains(&format!("lingered {id}")), "{log}");
        }
    }
}

/// The function's log, once a line starting with `prefix` is in it.
async fn log_with(router: &Router, prefix: &str) -> Vec<String> {
    let logs = router.logs().function("f");
    let mut lines: Vec<String> = Vec::new();
    for _ in 0..1000 {
        let page = logs.read(0, 0, 1000, std::time::Duration::ZERO).await;
        lines = page.events.into_iter().map(|e| e.message).collect();
        if lines.iter().any(|l| l.starts_with(prefix)) {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no {prefix:?} in\n{}", lines.join("\n"));
}

/// The function's log once invocation `id`'s REPORT is in it, and that line.
async fn report_of(router: &Router, id: &str) -> (Vec<String>, String) {
    let prefix = format!("REPORT RequestId: {id}");
    let lines = log_with(router, &prefix).await;
    let report = lines.iter().find(|l| l.starts_with(&prefix)).cloned();
    (lines, report.expect("log_with saw it"))
}

#[tokio::test]
async fn work_after_the_answer_past_the_deadline_times_out_that_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let first = router.invoke(input(r#"{"overrun":1}"#)).await.unwrap();
    assert!(!first.function_error);
    // The busy environment is not handed this one: a fresh one runs it.
    let second = router.invoke(input("{}")).await.unwrap();
    assert!(!second.function_error);
    assert_eq!(count(&second), 1);
    let (a, b) = (&first.request_id, &second.request_id);
    let (lines, report) = report_of(&router, a).await;
    assert!(report.contains("Status: timeout"), "{report}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("{a} Task timed out after 2.00 seconds"))),
        "{}",
        lines.join("\n")
    );
    assert!(!lines.iter().any(|l| l.contains("overran")));
    assert!(
        !lines
            .iter()
            .any(|l| l.contains(b.as_str()) && l.contains("timed out")),
        "{}",
        lines.join("\n")
    );
    // The overrun environment is gone; the fresh one serves on.
    assert_eq!(count(&router.invoke(input("{}")).await.unwrap()), 2);
}

#[tokio::test]
async fn a_runtime_exiting_after_its_answer_still_gets_end_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    // The first invocation starts the environment's watchdog; the second
    // is answered, then the runtime exits instead of asking again.
    router.invoke(input("{}")).await.unwrap();
    let done = router.invoke(input(r#"{"quit":1}"#)).await.unwrap();
    assert!(!done.function_error);
    let id = &done.request_id;
    let (lines, report) = report_of(&router, id).await;
    assert!(!report.contains("Status:"), "{report}");
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{}", lines.join("\n")))
    };
    assert!(
        at(&format!("quitting {id}")) < at(&format!("END RequestId: {id}")),
        "{}",
        lines.join("\n")
    );
}

#[tokio::test]
async fn with_no_room_left_an_invocation_waits_for_the_environment_busy_after_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    // Room for one environment only.
    let router = setup(dir.path(), 128);
    let first = router.invoke(input(r#"{"busy":1}"#)).await.unwrap();
    assert_eq!(count(&first), 1);
    // Its environment works on for 1.5 s: past the grace, it is neither
    // evicted (its work would be cut off) nor a reason to throttle.
    let second = router.invoke(input("{}")).await.unwrap();
    assert!(!second.function_error);
    assert_eq!(count(&second), 2, "the same environment, once free");
    let lines = log_with(&router, &format!("REPORT RequestId: {}", second.request_id)).await;
    let worked = lines
        .iter()
        .position(|l| l == &format!("worked on {}", first.request_id))
        .unwrap();
    let end = lines
        .iter()
        .position(|l| l.starts_with(&format!("END RequestId: {}", first.request_id)))
        .unwrap();
    assert!(worked < end, "{}", lines.join("\n"));
}

#[tokio::test]
async fn work_after_a_413_past_the_deadline_times_out_that_invocation_not_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let mut big = input(r#"{"toolarge":1}"#);
    big.tail = false;
    let first = router.invoke(big).await.unwrap();
    assert!(first.function_error);
    assert!(String::from_utf8_lossy(&first.payload).contains("Function.ResponseSizeTooLarge"));
    // The runtime works on past its deadline: a fresh environment serves on.
    let second = router.invoke(input("{}")).await.unwrap();
    assert!(!second.function_error, "{:?}", second.payload);
    assert_eq!(count(&second), 1);
    let (_, report) = report_of(&router, &first.request_id).await;
    assert!(report.contains("Status: timeout"), "{report}");
}

#[tokio::test]
async fn an_update_lets_an_environment_finish_its_work_after_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let mut lingering = input(r#"{"linger":1}"#);
    lingering.tail = false;
    let done = router.invoke(lingering).await.unwrap();
    // A new configuration arrives while the runtime works on (0.3 s).
    router.upsert(crate::FunctionSpec {
        record: function("f").timeout(2).build(),
        code_dir: dir.path().join("code"),
        opt_dir: None,
    });
    let id = &done.request_id;
    let lines = log_with(&router, &format!("REPORT RequestId: {id}")).await;
    let at = |prefix: String| lines.iter().position(|l| l.starts_with(&prefix));
    let lingered = at(format!("lingered {id}"));
    assert!(lingered.is_some(), "{}", lines.join("\n"));
    assert!(lingered < at(format!("END RequestId: {id}")));
    // The next invocation runs on the new configuration's environment.
    assert_eq!(count(&router.invoke(input("{}")).await.unwrap()), 1);
}

#[tokio::test]
async fn an_invocation_runs_under_the_request_id_it_brings() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let id = "6bc28136-2ba5-4b5d-a4a9-0b6a6e7d1b2c";
    let mut i = input("{}");
    i.request_id = Some(id.into());
    let done = router.invoke(i).await.unwrap();
    assert_eq!(done.request_id, id);
    let log = String::from_utf8(done.log).unwrap();
    for line in [
        format!("START RequestId: {id} "),
        format!("handling {id}"),
        format!("END RequestId: {id}"),
        format!("REPORT RequestId: {id}\t"),
    ] {
        assert!(log.contains(&line), "{line:?} missing in {log}");
    }
    let fresh = router.invoke(input("{}")).await.unwrap();
    assert_ne!(fresh.request_id, id);
}

#[tokio::test]
async fn crash_is_runtime_exit_error() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let c = router.invoke(input(r#"{"exit":1}"#)).await.unwrap();
    assert!(c.function_error);
    let body = String::from_utf8(c.payload.to_vec()).unwrap();
    assert!(
        body.contains("Runtime.ExitError") && body.contains("exit status 7"),
        "{body}"
    );
    assert_eq!(count(&router.invoke(input("{}")).await.unwrap()), 1);
}

/// The process backend, except that a SIGKILL reads as the OOM killer's,
/// as the namespace backend reports it after its memory cgroup's OOM kill.
struct OomSandbox;

#[async_trait::async_trait]
impl Sandbox for OomSandbox {
    fn name(&self) -> &'static str {
        "oom"
    }

    async fn launch(&self, spec: LaunchSpec) -> Result<Launched, SandboxError> {
        let l = ProcessSandbox.launch(spec).await?;
        let mut inner = l.process.exited();
        let (tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let info = inner.wait_for(Option::is_some).await.map(|i| *i);
            let _ = tx.send(match info {
                Ok(Some(ExitInfo::Signal(9))) => Some(ExitInfo::OutOfMemory),
                Ok(other) => other,
                Err(_) => Some(ExitInfo::Code(-1)),
            });
        });
        Ok(Launched {
            process: Box::new(OomProcess {
                inner: l.process,
                exited,
            }),
            output: l.output,
            runtime_api: l.runtime_api,
        })
    }
}

struct OomProcess {
    inner: Box<dyn EnvProcess>,
    exited: watch::Receiver<Option<ExitInfo>>,
}

impl EnvProcess for OomProcess {
    fn pid(&self) -> u32 {
        self.inner.pid()
    }
    fn kill(&self) {
        self.inner.kill()
    }
    fn peak_memory_bytes(&self) -> Option<u64> {
        self.inner.peak_memory_bytes()
    }
    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exited.clone()
    }
}

#[tokio::test]
async fn out_of_memory_is_reported_as_lambda_does_and_the_environment_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup_with(dir.path(), 1024, Arc::new(OomSandbox));
    assert_eq!(count(&router.invoke(input("{}")).await.unwrap()), 1);
    let c = router.invoke(input(r#"{"oom":1}"#)).await.unwrap();
    assert!(c.function_error);
    let body: serde_json::Value = serde_json::from_slice(&c.payload).unwrap();
    assert_eq!(body["errorType"], "Runtime.OutOfMemory");
    let msg = format!(
        "RequestId: {} Error: Runtime exited with error: signal: killed",
        c.request_id
    );
    assert_eq!(body["errorMessage"], msg.as_str());
    let log = String::from_utf8(c.log).unwrap();
    assert!(
        log.contains(&format!("{msg}\nRuntime.OutOfMemory\n")),
        "{log}"
    );
    assert!(
        log.contains("Status: error\tError Type: Runtime.OutOfMemory"),
        "{log}"
    );
    // A fresh environment takes the next invocation.
    assert_eq!(count(&router.invoke(input("{}")).await.unwrap()), 1);
}

#[tokio::test]
async fn concurrent_invocations_get_their_own_environments_within_budget() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 256);
    let (a, b, c) = tokio::join!(
        router.invoke(input("{}")),
        router.invoke(input("{}")),
        router.invoke(input("{}"))
    );
    let results = [a, b, c];
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(InvokeError::NoCapacity)))
        .count();
    assert!(ok >= 2 && ok + throttled == 3, "{results:?}");
    assert!(router.live_environments() <= 2);
    router.shutdown();
}

#[tokio::test]
async fn unknown_function_and_managed_runtime_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let mut i = input("{}");
    i.function = "nope".into();
    assert!(matches!(
        router.invoke(i).await,
        Err(InvokeError::NotFound(_))
    ));
    router.upsert(FunctionSpec {
        record: function("py").runtime("python3.13").build(),
        code_dir: dir.path().into(),
        opt_dir: None,
    });
    let mut i = input("{}");
    i.function = "py".into();
    assert!(matches!(
        router.invoke(i).await,
        Err(InvokeError::RuntimeUnavailable { .. })
    ));
}

#[tokio::test]
async fn a_bootstrap_shipped_in_a_layer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let router = setup(dir.path(), 1024);
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    router.upsert(FunctionSpec {
        record: function("nolayer").build(),
        code_dir: empty.clone(),
        opt_dir: None,
    });
    let mut i = input("{}");
    i.function = "nolayer".into();
    let done = router.invoke(i).await.unwrap();
    assert!(done.function_error);
    assert!(String::from_utf8_lossy(&done.payload).contains("Runtime.InvalidEntrypoint"));

    router.upsert(FunctionSpec {
        record: function("layered").build(),
        code_dir: empty,
        opt_dir: Some(dir.path().join("code")),
    });
    let mut i = input("{}");
    i.function = "layered".into();
    let done = router.invoke(i).await.unwrap();
    assert!(!done.function_error, "{:?}", done.payload);
    assert!(String::from_utf8_lossy(&done.payload).contains("\"count\":1"));
    router.shutdown();
}

#[test]
fn trace_ids_have_lambda_shape() {
    let t = crate::trace_id();
    let rest = t.strip_prefix("Root=1-").expect(&t);
    let (root, rest) = rest.split_once(";Parent=").expect(&t);
    let (parent, sampled) = rest.split_once(';').expect(&t);
    assert_eq!(sampled, "Sampled=0");
    let (secs, id) = root.split_once('-').expect(&t);
    assert_eq!(secs.len(), 8);
    assert_eq!(id.len(), 24);
    assert_eq!(parent.len(), 16);
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    assert!(hex(secs) && hex(id) && hex(parent), "{t}");
    assert_eq!(&id[16..], &parent[..8]);
}

/// Execution-role credentials (`crate::credentials`): what the function
/// sees, and environments retired before their credentials expire.
mod credentials {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::{CredentialIssuer, IssuedCredentials};

    /// Answers with the credentials and endpoint it was started with.
    const ENV_RUNTIME: &str = r#"#!/bin/bash
set -u
host=${AWS_LAMBDA_RUNTIME_API%:*}; port=${AWS_LAMBDA_RUNTIME_API#*:}
req() {
  exec 3<>/dev/tcp/$host/$port
  printf '%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "$2" "${#3}" "$3" >&3
  cat <&3; exec 3>&-
}
while true; do
  resp=$(req GET /2018-06-01/runtime/invocation/next "")
  id=$(printf '%s' "$resp" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  req POST /2018-06-01/runtime/invocation/$id/response "{\"key\":\"${AWS_ACCESS_KEY_ID-}\",\"secret\":\"${AWS_SECRET_ACCESS_KEY-}\",\"token\":\"${AWS_SESSION_TOKEN-}\",\"endpoint\":\"${AWS_ENDPOINT_URL-}\",\"init\":\"$AWS_LAMBDA_INITIALIZATION_TYPE\",\"pid\":$$}" >/dev/null
done
"#;

    /// Issues `ASIATEST<n>` credentials, the n-th valid for `lifetimes[n]`
    /// (the last one for every later issue), recording what was asked.
    struct FakeIssuer {
        lifetimes: Vec<Duration>,
        issued: AtomicUsize,
        asked: Mutex<Vec<(String, String)>>,
    }

    impl FakeIssuer {
        fn new(lifetimes: &[u64]) -> Arc<Self> {
            Arc::new(Self {
                lifetimes: lifetimes.iter().map(|s| Duration::from_secs(*s)).collect(),
                issued: AtomicUsize::new(0),
                asked: Mutex::new(Vec::new()),
            })
        }
    }

    impl CredentialIssuer for FakeIssuer {
        fn issue(&self, role: &str, session: &str) -> Result<IssuedCredentials, String> {
            let n = self.issued.fetch_add(1, Ordering::SeqCst);
            self.asked
                .lock()
                .unwrap()
                .push((role.into(), session.into()));
            let lifetime = self.lifetimes[n.min(self.lifetimes.len() - 1)];
            Ok(IssuedCredentials {
                access_key_id: format!("ASIATEST{n}"),
                secret_access_key: format!("secret{n}"),
                session_token: format!("token{n}"),
                expiration: chrono::Utc::now() + chrono::Duration::from_std(lifetime).unwrap(),
            })
        }
    }

    fn router(dir: &Path, issuer: Arc<FakeIssuer>, endpoint: Option<&str>) -> Arc<Router> {
        let router = crate::testing::script_router(
            dir,
            ENV_RUNTIME,
            1024,
            Arc::new(ProcessSandbox),
            function("f").timeout(1).build(),
        );
        router.set_credentials(issuer);
        if let Some(url) = endpoint {
            router.set_endpoint_url(url.into());
        }
        router
    }

    fn seen(c: &crate::Completed) -> serde_json::Value {
        assert!(!c.function_error, "{:?}", c.payload);
        serde_json::from_slice(&c.payload).unwrap()
    }

    #[tokio::test]
    async fn the_function_gets_its_role_s_credentials_and_the_endpoint_but_no_log_line_shows_them()
    {
        let dir = tempfile::tempdir().unwrap();
        let issuer = FakeIssuer::new(&[3600]);
        let router = router(dir.path(), issuer.clone(), Some("http://172.31.16.1:4567"));
        let got = seen(&router.invoke(input("{}")).await.unwrap());
        assert_eq!(got["key"], "ASIATEST0");
        assert_eq!(got["secret"], "secret0");
        assert_eq!(got["token"], "token0");
        assert_eq!(got["endpoint"], "http://172.31.16.1:4567");
        // The function's role, its name as the session (as Lambda).
        assert_eq!(
            *issuer.asked.lock().unwrap(),
            [(
                "arn:aws:iam::000000000000:role/test".to_string(),
                "f".to_string()
            )]
        );
        let again = seen(&router.invoke(input("{}")).await.unwrap());
        assert_eq!(again["pid"], got["pid"], "a warm environment keeps its");
        let page = router
            .logs()
            .function("f")
            .read(0, 0, 1000, Duration::ZERO)
            .await;
        assert!(!page.events.is_empty());
        for e in &page.events {
            assert!(
                !e.message.contains("secret0") && !e.message.contains("token0"),
                "{}",
                e.message
            );
        }
    }

    #[tokio::test]
    async fn without_an_issuer_or_endpoint_the_function_gets_neither() {
        let dir = tempfile::tempdir().unwrap();
        let router = crate::testing::script_router(
            dir.path(),
            ENV_RUNTIME,
            1024,
            Arc::new(ProcessSandbox),
            function("f").timeout(1).build(),
        );
        let got = seen(&router.invoke(input("{}")).await.unwrap());
        assert_eq!((&got["key"], &got["endpoint"]), (&"".into(), &"".into()));
    }

    #[tokio::test]
    async fn a_busy_environment_whose_credentials_near_expiry_is_retired_when_released() {
        let dir = tempfile::tempdir().unwrap();
        // The first environment's credentials expire within its timeout
        // and margin: it takes its first invocation only.
        let issuer = FakeIssuer::new(&[1, 3600]);
        let router = router(dir.path(), issuer, None);
        let first = seen(&router.invoke(input("{}")).await.unwrap());
        let second = seen(&router.invoke(input("{}")).await.unwrap());
        let third = seen(&router.invoke(input("{}")).await.unwrap());
        assert_eq!(
            (&first["key"], &second["key"]),
            (&"ASIATEST0".into(), &"ASIATEST1".into())
        );
        assert_ne!(first["pid"], second["pid"]);
        assert_eq!(second["pid"], third["pid"], "renewed credentials last");
        assert_eq!(router.live_environments(), 1);
    }

    #[tokio::test]
    async fn the_reaper_retires_an_idle_environment_whose_credentials_near_expiry() {
        let dir = tempfile::tempdir().unwrap();
        // 4 s, timeout 1 s: usable for 4 - (1 + 1) = 2 s.
        let issuer = FakeIssuer::new(&[4, 3600]);
        let router = router(dir.path(), issuer, None);
        let first = seen(&router.invoke(input("{}")).await.unwrap());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        router.reap_once();
        assert_eq!(router.live_environments(), 0);
        let next = seen(&router.invoke(input("{}")).await.unwrap());
        assert_ne!(next["pid"], first["pid"]);
        assert_eq!(next["key"], "ASIATEST1");
    }

    #[tokio::test]
    async fn the_provisioner_replaces_an_environment_whose_credentials_near_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = FakeIssuer::new(&[4, 3600]);
        let router = router(dir.path(), issuer.clone(), None);
        router.provision("f", "$LATEST", ignis_model::Version::Latest, 1);
        let allocated = |router: &Router| {
            router
                .provisioned("f", "$LATEST", ignis_model::Version::Latest)
                .allocated
        };
        while allocated(&router) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = seen(&router.invoke(input("{}")).await.unwrap());
        assert_eq!(
            (&first["key"], &first["init"]),
            (&"ASIATEST0".into(), &"provisioned-concurrency".into())
        );
        // Past its renewal the provisioner starts a successor with new
        // credentials; the old one is no longer handed invocations.
        while issuer.issued.load(Ordering::SeqCst) < 2 || allocated(&router) == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let next = seen(&router.invoke(input("{}")).await.unwrap());
        assert_eq!(
            (&next["key"], &next["init"]),
            (&"ASIATEST1".into(), &"provisioned-concurrency".into())
        );
        assert_ne!(next["pid"], first["pid"]);
        router.provision("f", "$LATEST", ignis_model::Version::Latest, 0);
    }
}

mod keepalive {
    use std::time::{Duration, Instant};

    use ignis_model::Version;

    use super::*;
    use crate::keepalive::Mode;

    const MIN: Duration = Duration::from_secs(60);

    fn hybrid(dir: &Path) -> Arc<Router> {
        let mut router = setup(dir, 1024);
        Arc::get_mut(&mut router)
            .expect("the only handle")
            .keepalive = crate::keepalive_policy(Mode::Hybrid, MIN * 240);
        router
    }

    fn pool(router: &Router) -> Arc<crate::Pool> {
        router.functions.read().unwrap()["f"].versions[&Version::Latest].clone()
    }

    #[tokio::test]
    async fn an_environment_is_kept_for_its_functions_learned_window() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [Mode::Fixed, Mode::Hybrid] {
            let router = match mode {
                Mode::Fixed => setup(dir.path(), 1024),
                Mode::Hybrid => hybrid(dir.path()),
            };
            router.invoke(input("{}")).await.unwrap();
            let now = Instant::now();
            // Then, in its history only, an invocation 30 seconds later and
            // ten 30 minutes apart: kept for 31 minutes and 10%, without a
            // pre-warm window (the 5th percentile is in the first minute).
            let pool = pool(&router);
            for i in 0..11 {
                let mut history = pool.history.lock().unwrap();
                let at = now + Duration::from_secs(30) + MIN * 30 * i;
                history.started(at);
                history.finished(at);
            }
            router.reap_at(now + MIN * 4);
            assert_eq!(router.live_environments(), 1, "{mode:?}");
            // The fixed policy ends it after the idle timeout (5 minutes),
            // the hybrid one keeps it to the 31st minute and 10%.
            router.reap_at(now + MIN * 10);
            let kept = usize::from(mode == Mode::Hybrid);
            assert_eq!(router.live_environments(), kept, "{mode:?}");
            router.reap_at(now + MIN * 35);
            assert_eq!(router.live_environments(), 0, "{mode:?}");
        }
    }

    #[tokio::test]
    async fn an_invocation_whose_caller_went_away_is_over_for_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let router = hybrid(dir.path());
        router.invoke(input("{}")).await.unwrap();
        let cut = tokio::time::timeout(
            Duration::from_millis(300),
            router.invoke(input(r#"{"sleep":1}"#)),
        )
        .await;
        assert!(cut.is_err(), "the invocation was still running");
        let pool = pool(&router);
        assert!(pool.history.lock().unwrap().idle_since().is_some());
        router.invoke(input("{}")).await.unwrap();
        assert_eq!(pool.history.lock().unwrap().histogram().samples(), 2);
    }

    #[tokio::test]
    async fn the_idle_timeout_caps_the_learned_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut router = setup(dir.path(), 1024);
        Arc::get_mut(&mut router)
            .expect("the only handle")
            .keepalive = crate::keepalive_policy(Mode::Hybrid, MIN * 3);
        for _ in 0..12 {
            router.invoke(input("{}")).await.unwrap();
        }
        let now = Instant::now();
        router.reap_at(now + MIN * 2);
        assert_eq!(router.live_environments(), 1);
        router.reap_at(now + MIN * 4);
        assert_eq!(router.live_environments(), 0);
    }

    #[tokio::test]
    async fn without_history_the_hybrid_policy_keeps_the_default_window() {
        let dir = tempfile::tempdir().unwrap();
        let router = hybrid(dir.path());
        router.invoke(input("{}")).await.unwrap();
        let now = Instant::now();
        router.reap_at(now + MIN * 4);
        assert_eq!(router.live_environments(), 1);
        router.reap_at(now + MIN * 6);
        assert_eq!(router.live_environments(), 0);
    }

    #[tokio::test]
    async fn a_periodic_function_is_due_for_prewarming_before_its_next_invocation() {
        let dir = tempfile::tempdir().unwrap();
        let router = hybrid(dir.path());
        assert!(router.prewarm_due(MIN * 600).is_empty());
        // Eleven invocations two minutes apart, in the history only.
        let t0 = Instant::now();
        let pool = pool(&router);
        for i in 0..11 {
            let mut history = pool.history.lock().unwrap();
            history.started(t0 + MIN * 2 * i);
            history.finished(t0 + MIN * 2 * i);
        }
        // Pre-warm window: 2 minutes less 10%, after the last one.
        let expected = t0 + MIN * 20 + Duration::from_secs(108);
        let due = router.prewarm_due(MIN * 30);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].function.as_str(), due[0].at), ("f", expected));
        assert_eq!(
            due[0].keep_alive,
            (MIN * 3).mul_f64(1.1) - Duration::from_secs(108)
        );
        assert!(router.prewarm_due(MIN * 19).is_empty());
    }

    /// Eleven invocations two minutes apart, in `pool`'s history only, from
    /// `t0`: a pattern whose pre-warm window is 2 minutes less 10%.
    fn every_two_minutes(pool: &crate::Pool, t0: Instant) {
        let mut history = pool.history.lock().unwrap();
        for i in 0..11 {
            history.started(t0 + MIN * 2 * i);
            history.finished(t0 + MIN * 2 * i);
        }
    }

    #[tokio::test]
    async fn an_environment_is_started_ahead_of_an_expected_invocation() {
        use crate::warmup::LEAD;
        let dir = tempfile::tempdir().unwrap();
        let router = hybrid(dir.path());
        let pool = pool(&router);
        let t0 = Instant::now();
        every_two_minutes(&pool, t0);
        let closes = t0 + MIN * 20 + Duration::from_secs(108);
        let keep_alive = (MIN * 3).mul_f64(1.1) - Duration::from_secs(108);
        let second = Duration::from_secs(1);
        assert!(router.warm_due(closes - LEAD - second).is_empty());
        assert!(router.warm_due(closes + keep_alive).is_empty());
        let due = router.warm_due(closes - second);
        assert_eq!(due.len(), 1);
        // Once per idle period.
        assert!(router.warm_due(closes).is_empty());
        let (due_pool, idle_since) = due.into_iter().next().unwrap();
        assert_eq!(idle_since, t0 + MIN * 20);
        router.warm(&due_pool, idle_since).await;
        assert_eq!(router.live_environments(), 1);
        assert_eq!(pool.idle.lock().unwrap().len(), 1);
        // The expected invocation is warm: its environment's first, with no
        // Init Duration in its REPORT (the init was reported ahead).
        let done = router.invoke(input("{}")).await.unwrap();
        assert_eq!(count(&done), 1);
        let log = String::from_utf8(done.log).unwrap();
        assert!(log.contains("REPORT RequestId:"), "{log}");
        assert!(!log.contains("Init Duration"), "{log}");
        assert_eq!(router.live_environments(), 1);
    }

    #[tokio::test]
    async fn an_environment_ends_in_its_prewarm_window() {
        use crate::warmup::LEAD;
        let dir = tempfile::tempdir().unwrap();
        let router = hybrid(dir.path());
        router.invoke(input("{}")).await.unwrap();
        let pool = pool(&router);
        let t0 = Instant::now() + MIN * 2;
        every_two_minutes(&pool, t0);
        // It served the last invocation of the pattern.
        let last = t0 + MIN * 20;
        pool.idle.lock().unwrap()[0].used_at(last);
        let closes = last + Duration::from_secs(108);
        // Shortly before the window closes it is kept (it is what the
        // warmer would start), ...
        router.reap_at(closes - LEAD + Duration::from_secs(1));
        assert_eq!(router.live_environments(), 1);
        // ... and not needed earlier in the window.
        router.reap_at(last + Duration::from_secs(30));
        assert_eq!(router.live_environments(), 0);
    }
}
