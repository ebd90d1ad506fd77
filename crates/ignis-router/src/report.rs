//! Lambda's platform log lines and the error documents Lambda returns when an
//! invocation fails outside the function's own code.

use std::time::Duration;

use bytes::Bytes;
use ignis_sandbox::ExitInfo;

// The three lines are written for every invocation, so they are built by
// appending to a string sized once rather than with `format!` (which guesses
// the size, grows the string several times and formats each `{:.2}` into a
// string of its own).

/// `START RequestId: … Version: …`.
fn start_line(request_id: &str, version: &str) -> String {
    const A: &str = "START RequestId: ";
    const B: &str = " Version: ";
    let mut line = String::with_capacity(A.len() + request_id.len() + B.len() + version.len());
    line.push_str(A);
    line.push_str(request_id);
    line.push_str(B);
    line.push_str(version);
    line
}

/// How an environment came to be initialized
/// (`AWS_LAMBDA_INITIALIZATION_TYPE`, the init records'
/// `initializationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitType {
    /// For an invocation that found no environment.
    OnDemand,
    /// Ahead of any invocation, for provisioned concurrency.
    Provisioned,
}

impl InitType {
    /// As Lambda names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on-demand",
            Self::Provisioned => "provisioned-concurrency",
        }
    }
}

/// `INIT_REPORT` of an init that finished ahead of any invocation
/// (provisioned concurrency): its duration is reported here, once, not in
/// the first invocation's REPORT.
fn init_done_line(took: std::time::Duration) -> String {
    format!(
        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: success",
        took.as_secs_f64() * 1000.0
    )
}

/// `INIT_REPORT` of an init that failed with `error_type` after `took`
/// (Lambda writes it before the invocation's START).
fn init_error_line(took: std::time::Duration, error_type: &str) -> String {
    format!(
        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {error_type}",
        took.as_secs_f64() * 1000.0
    )
}

/// `INIT_REPORT` of an init phase that ran out of its 10 s; the init goes
/// on within the invocation, under the function's timeout.
fn init_timeout_line(took: std::time::Duration) -> String {
    format!(
        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout",
        took.as_secs_f64() * 1000.0
    )
}

/// `END RequestId: …`.
fn end_line(request_id: &str) -> String {
    const A: &str = "END RequestId: ";
    let mut line = String::with_capacity(A.len() + request_id.len());
    line.push_str(A);
    line.push_str(request_id);
    line
}

/// How an environment writes Lambda's platform lines: text (`START
/// RequestId: …`), or, for a function whose `LoggingConfig.LogFormat` is
/// `JSON`, the JSON records Lambda writes then (`platform.initStart`,
/// `platform.start`, `platform.runtimeDone` in END's place,
/// `platform.report`, `platform.initReport`), each one line. Every platform record is at INFO,
/// so a `SystemLogLevel` of `WARN` leaves them out, as Lambda does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemLog {
    /// Lambda's text lines.
    Text,
    /// JSON records.
    Json,
    /// JSON, at a level above INFO: none of these records.
    Quiet,
}

impl SystemLog {
    /// The format a function's logging configuration asks for.
    pub fn of(config: &ignis_model::wire::LoggingConfig) -> Self {
        // Exactly as the environment's AWS_LAMBDA_LOG_FORMAT reads it.
        if config.log_format.as_deref() != Some("JSON") {
            return Self::Text;
        }
        match config.system_log_level.as_deref() {
            Some("WARN") => Self::Quiet,
            _ => Self::Json,
        }
    }

    /// INIT_START, or `platform.initStart`, written before the init of
    /// each new environment: what runs the function (`runtime_version`,
    /// `nodejs:20.20.2`) and its ARN, as Lambda names its runtime version
    /// there.
    pub fn init_start(
        self,
        runtime_version: &str,
        arn: &str,
        function: &str,
        version: &str,
        init_type: InitType,
    ) -> Option<String> {
        match self {
            Self::Text => Some(format!(
                "INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: {arn}"
            )),
            Self::Json => Some(record(
                "platform.initStart",
                serde_json::json!({
                    "initializationType": init_type.as_str(),
                    "phase": "init",
                    "runtimeVersion": runtime_version,
                    "runtimeVersionArn": arn,
                    "functionName": function,
                    "functionVersion": version,
                }),
            )),
            Self::Quiet => None,
        }
    }

    /// START, or `platform.start`.
    pub fn start(self, request_id: &str, version: &str) -> Option<String> {
        match self {
            Self::Text => Some(start_line(request_id, version)),
            Self::Json => Some(record(
                "platform.start",
                serde_json::json!({ "requestId": request_id, "version": version }),
            )),
            Self::Quiet => None,
        }
    }

    /// END, or `platform.runtimeDone` with the invocation's status.
    pub fn end(self, request_id: &str, report: &Report) -> Option<String> {
        match self {
            Self::Text => Some(end_line(request_id)),
            Self::Json => Some(record(
                "platform.runtimeDone",
                outcome(request_id, report, serde_json::Map::new()),
            )),
            Self::Quiet => None,
        }
    }

    /// REPORT, or `platform.report`.
    pub fn report(self, request_id: &str, report: &Report) -> Option<String> {
        match self {
            Self::Text => Some(report_line(request_id, report)),
            Self::Json => {
                let mut metrics = serde_json::json!({
                    "durationMs": ms(report.duration),
                    "billedDurationMs": billed_ms(report.duration),
                    "memorySizeMB": report.memory_size_mb,
                    "maxMemoryUsedMB": report.max_memory_used_mb,
                });
                if let Some(init) = report.init {
                    metrics["initDurationMs"] = ms(init).into();
                }
                let mut fields = serde_json::Map::new();
                fields.insert("metrics".into(), metrics);
                Some(record(
                    "platform.report",
                    outcome(request_id, report, fields),
                ))
            }
            Self::Quiet => None,
        }
    }

    /// INIT_REPORT of a failed init, or `platform.initReport`.
    pub fn init_error(
        self,
        took: Duration,
        error_type: &str,
        init_type: InitType,
    ) -> Option<String> {
        match self {
            Self::Text => Some(init_error_line(took, error_type)),
            Self::Json => Some(init_record(took, "error", Some(error_type), init_type)),
            Self::Quiet => None,
        }
    }

    /// INIT_REPORT of an init past its 10 s, or `platform.initReport`.
    pub fn init_timeout(self, took: Duration, init_type: InitType) -> Option<String> {
        match self {
            Self::Text => Some(init_timeout_line(took)),
            Self::Json => Some(init_record(took, "timeout", None, init_type)),
            Self::Quiet => None,
        }
    }

    /// INIT_REPORT of an init done ahead of any invocation (provisioned
    /// concurrency), or `platform.initReport`.
    pub fn init_done(self, took: Duration, init_type: InitType) -> Option<String> {
        match self {
            Self::Text => Some(init_done_line(took)),
            Self::Json => Some(init_record(took, "success", None, init_type)),
            Self::Quiet => None,
        }
    }
}

/// An invocation's record: its request id, `fields`, its status and error
/// type.
fn outcome(
    request_id: &str,
    report: &Report,
    mut fields: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    fields.insert("requestId".into(), request_id.into());
    fields.insert("status".into(), report.status.unwrap_or("success").into());
    if let Some(t) = &report.error_type {
        fields.insert("errorType".into(), t.as_str().into());
    }
    serde_json::Value::Object(fields)
}

/// One JSON platform record: `{"time":…,"type":…,"record":…}`.
fn record(kind: &str, record: serde_json::Value) -> String {
    serde_json::json!({
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "type": kind,
        "record": record,
    })
    .to_string()
}

fn init_record(
    took: Duration,
    status: &str,
    error_type: Option<&str>,
    init_type: InitType,
) -> String {
    let mut r = serde_json::json!({
        "initializationType": init_type.as_str(),
        "phase": "init",
        "status": status,
        "metrics": { "durationMs": ms(took) },
    });
    if let Some(t) = error_type {
        r["errorType"] = t.into();
    }
    record("platform.initReport", r)
}

/// Milliseconds with two decimals, as a JSON number.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// Whole milliseconds, rounded up, at least 1: Lambda's billed duration.
fn billed_ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Figures of one invocation for its REPORT line.
#[derive(Debug, Clone)]
pub struct Report {
    /// Time from delivery to answer.
    pub duration: Duration,
    /// MemorySize, MB.
    pub memory_size_mb: u32,
    /// Peak memory measured, MB.
    pub max_memory_used_mb: u64,
    /// Init phase, on cold starts.
    pub init: Option<Duration>,
    /// `timeout` or `error` when the invocation did not complete normally.
    pub status: Option<&'static str>,
    /// Error type when `status` is `error`.
    pub error_type: Option<String>,
}

/// The error type of a response over Lambda's limit.
pub const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";

/// The error document of a response over Lambda's limit.
pub fn response_too_large() -> Bytes {
    error_document(
        RESPONSE_TOO_LARGE,
        &format!(
            "Response payload size exceeded maximum allowed payload size ({} bytes).",
            ignis_model::limits::RESPONSE_PAYLOAD_MAX
        ),
    )
}

/// The log line of an invocation that ran past its timeout.
pub fn timed_out_line(request_id: &str, limit: Duration) -> String {
    format!(
        "{} {request_id} Task timed out after {:.2} seconds",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        limit.as_secs_f64()
    )
}

/// `n` in decimal, appended to `out`.
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| d as char));
}

/// `d` in milliseconds with two decimals (rounded half up), appended to
/// `out`: integer arithmetic, not float formatting, once per REPORT.
fn push_ms(out: &mut String, d: Duration) {
    let hundredths = u64::try_from((d.as_nanos() + 5_000) / 10_000).unwrap_or(u64::MAX);
    push_u64(out, hundredths / 100);
    out.push('.');
    let frac = hundredths % 100;
    out.push((b'0' + (frac / 10) as u8) as char);
    out.push((b'0' + (frac % 10) as u8) as char);
}

/// `REPORT RequestId: …\tDuration: … ms\tBilled Duration: … ms\t…`.
fn report_line(request_id: &str, r: &Report) -> String {
    let billed = billed_ms(r.duration);
    // Room for the fixed text, the numbers and an init duration.
    let mut line = String::with_capacity(160 + request_id.len());
    line.push_str("REPORT RequestId: ");
    line.push_str(request_id);
    line.push_str("\tDuration: ");
    push_ms(&mut line, r.duration);
    line.push_str(" ms\tBilled Duration: ");
    push_u64(&mut line, billed);
    line.push_str(" ms\tMemory Size: ");
    push_u64(&mut line, u64::from(r.memory_size_mb));
    line.push_str(" MB\tMax Memory Used: ");
    push_u64(&mut line, r.max_memory_used_mb);
    line.push_str(" MB");
    if let Some(init) = r.init {
        line.push_str("\tInit Duration: ");
        push_ms(&mut line, init);
        line.push_str(" ms");
    }
    if let Some(status) = r.status {
        line.push_str("\tStatus: ");
        line.push_str(status);
        if let Some(t) = &r.error_type {
            line.push_str("\tError Type: ");
            line.push_str(t);
        }
    }
    line
}

/// An error document `{"errorType":…,"errorMessage":…}`.
pub fn error_document(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// The error document of an invocation that ran past its timeout.
pub fn timeout_error(request_id: &str, timeout: Duration) -> Bytes {
    error_document(
        "Sandbox.Timedout",
        &format!(
            "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
            timeout.as_secs_f64()
        ),
    )
}

/// Lambda's error type for a runtime that exited during an invocation:
/// `Runtime.OutOfMemory` when the sandbox saw the OOM killer end it, else
/// `Runtime.ExitError`. The message is the same for both
/// (`… Runtime exited with error: signal: killed`).
pub fn exit_error_type(exit: &ExitInfo) -> &'static str {
    if exit.out_of_memory() {
        "Runtime.OutOfMemory"
    } else {
        "Runtime.ExitError"
    }
}

/// The error document of a runtime that exited during an invocation.
pub fn exit_error(request_id: &str, exit: &ExitInfo) -> Bytes {
    error_document(
        exit_error_type(exit),
        &format!("RequestId: {request_id} Error: Runtime exited with error: {exit}"),
    )
}

/// The body returned for a function error: the runtime's document, bytes
/// untouched, as Lambda passes it on; for an empty one, a document built
/// from the error type header (the Runtime API's rule when no payload is
/// given).
pub fn function_error_body(error_type: Option<&str>, body: Bytes) -> Bytes {
    if !body.is_empty() {
        return body;
    }
    error_document(error_type.unwrap_or("Runtime.Unknown"), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_log_format_writes_lambdas_platform_records() {
        let config = |format: &str, level: Option<&str>| ignis_model::wire::LoggingConfig {
            log_format: Some(format.into()),
            system_log_level: level.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(SystemLog::of(&config("Text", None)), SystemLog::Text);
        assert_eq!(
            SystemLog::of(&config("JSON", Some("WARN"))),
            SystemLog::Quiet
        );
        let json = SystemLog::of(&config("JSON", Some("INFO")));
        assert_eq!(json, SystemLog::Json);
        let report = Report {
            duration: Duration::from_micros(1_234),
            memory_size_mb: 128,
            max_memory_used_mb: 20,
            init: Some(Duration::from_millis(5)),
            status: Some("error"),
            error_type: Some("Runtime.ExitError".into()),
        };
        let parse = |line: Option<String>| -> serde_json::Value {
            serde_json::from_str(&line.unwrap()).unwrap()
        };
        let start = parse(json.start("r-1", "$LATEST"));
        assert_eq!(start["type"], "platform.start");
        assert_eq!(
            start["record"],
            serde_json::json!({"requestId": "r-1", "version": "$LATEST"})
        );
        assert!(start["time"].as_str().unwrap().ends_with('Z'));
        let done = parse(json.end("r-1", &report));
        assert_eq!(done["type"], "platform.runtimeDone");
        assert_eq!(done["record"]["status"], "error");
        let rep = parse(json.report("r-1", &report));
        assert_eq!(rep["type"], "platform.report");
        assert_eq!(
            rep["record"]["metrics"],
            serde_json::json!({"durationMs": 1.23, "billedDurationMs": 2, "memorySizeMB": 128,
                "maxMemoryUsedMB": 20, "initDurationMs": 5.0})
        );
        assert_eq!(rep["record"]["errorType"], "Runtime.ExitError");
        let init = parse(json.init_timeout(Duration::from_secs(10), InitType::OnDemand));
        assert_eq!(init["type"], "platform.initReport");
        assert_eq!(init["record"]["status"], "timeout");
        assert_eq!(SystemLog::Quiet.report("r-1", &report), None);
        let arn = "arn:aws:lambda:us-east-1::runtime:ab12";
        let init =
            parse(json.init_start("nodejs:20.20.2", arn, "f", "$LATEST", InitType::OnDemand));
        assert_eq!(init["type"], "platform.initStart");
        assert_eq!(
            init["record"],
            serde_json::json!({"initializationType": "on-demand", "phase": "init",
                "runtimeVersion": "nodejs:20.20.2", "runtimeVersionArn": arn,
                "functionName": "f", "functionVersion": "$LATEST"})
        );
        assert_eq!(
            SystemLog::Quiet.init_start("nodejs:20.20.2", arn, "f", "$LATEST", InitType::OnDemand),
            None
        );
    }

    #[test]
    fn init_start_reads_like_lambdas() {
        assert_eq!(
            SystemLog::Text
                .init_start(
                    "python:3.13.5",
                    "arn:aws:lambda:us-east-1::runtime:ab12",
                    "f",
                    "3",
                    InitType::Provisioned,
                )
                .unwrap(),
            "INIT_START Runtime Version: python:3.13.5\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:ab12"
        );
    }

    #[test]
    fn report_line_has_lambda_fields() {
        let r = Report {
            duration: Duration::from_micros(1234),
            memory_size_mb: 128,
            max_memory_used_mb: 20,
            init: Some(Duration::from_millis(5)),
            status: None,
            error_type: None,
        };
        assert_eq!(
            report_line("id", &r),
            "REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 5.00 ms"
        );
    }

    #[test]
    fn report_and_start_end_lines_read_like_lambda() {
        let r = Report {
            duration: Duration::from_nanos(12_345_678),
            memory_size_mb: 1769,
            max_memory_used_mb: 3,
            init: None,
            status: Some("error"),
            error_type: Some("Runtime.ExitError".into()),
        };
        assert_eq!(
            report_line("r-1", &r),
            "REPORT RequestId: r-1\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 1769 MB\tMax Memory Used: 3 MB\tStatus: error\tError Type: Runtime.ExitError"
        );
        assert_eq!(
            start_line("r-1", "$LATEST"),
            "START RequestId: r-1 Version: $LATEST"
        );
        assert_eq!(end_line("r-1"), "END RequestId: r-1");
    }

    #[test]
    fn durations_read_as_float_formatting_would_print_them() {
        let line = |d: Duration| {
            let mut s = String::new();
            push_ms(&mut s, d);
            s
        };
        for nanos in [
            0,
            1,
            4_999,
            5_001,
            994_999,
            995_001,
            1_000_000,
            1_234_000,
            12_345_678,
            999_999_999,
            3_000_000_000,
            86_400_123_456_789,
        ] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(
                line(d),
                format!("{:.2}", d.as_secs_f64() * 1000.0),
                "{nanos} ns"
            );
        }
        let billed = |nanos| {
            report_line(
                "r",
                &Report {
                    duration: Duration::from_nanos(nanos),
                    memory_size_mb: 128,
                    max_memory_used_mb: 0,
                    init: None,
                    status: None,
                    error_type: None,
                },
            )
        };
        assert!(billed(0).contains("Billed Duration: 1 ms"));
        assert!(billed(1_000_000).contains("Billed Duration: 1 ms"));
        assert!(billed(1_000_001).contains("Billed Duration: 2 ms"));
    }

    #[test]
    fn timeout_message_matches_lambda() {
        let b = timeout_error("r", Duration::from_secs(1));
        assert!(std::str::from_utf8(&b)
            .unwrap()
            .contains("Task timed out after 1.00 seconds"));
    }

    #[test]
    fn exit_errors_read_like_lambda() {
        let doc = |e: &ExitInfo| {
            serde_json::from_slice::<serde_json::Value>(&exit_error("r1", e)).unwrap()
        };
        let oom = doc(&ExitInfo::OutOfMemory);
        assert_eq!(oom["errorType"], "Runtime.OutOfMemory");
        assert_eq!(
            oom["errorMessage"],
            "RequestId: r1 Error: Runtime exited with error: signal: killed"
        );
        let killed = doc(&ExitInfo::Signal(9));
        assert_eq!(killed["errorType"], "Runtime.ExitError");
        assert_eq!(killed["errorMessage"], oom["errorMessage"]);
        assert_eq!(
            doc(&ExitInfo::Code(2))["errorMessage"],
            "RequestId: r1 Error: Runtime exited with error: exit status 2"
        );
    }

    #[test]
    fn error_bodies_pass_untouched_and_an_empty_one_is_built_from_the_type() {
        for raw in [&b"plain"[..], br#"{"errorType":"A"}"#, b"\xff\xfe\x00abc"] {
            let raw = Bytes::copy_from_slice(raw);
            assert_eq!(function_error_body(Some("X.Y"), raw.clone()), raw);
        }
        let b = function_error_body(Some("X.Y"), Bytes::new());
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            (&v["errorType"], &v["errorMessage"]),
            (&"X.Y".into(), &"".into())
        );
    }
}
