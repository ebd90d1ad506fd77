//! `ignis invoke`: send an event, print the response (or the function's error
//! document, exiting 1) on stdout and, with `--tail`, the log tail on stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ignis_client::{Client, InvocationType, InvokeOutput, InvokeRequest};

use crate::output;

/// The event sent when none is given.
const DEFAULT_PAYLOAD: &[u8] = b"{}";

/// Arguments of `ignis invoke`.
#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// Function name.
    pub name: String,
    /// The event, as JSON [default: {}].
    #[arg(conflicts_with = "payload_file")]
    pub payload: Option<String>,
    /// Read the event from this file (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// Invoke asynchronously (InvocationType Event): queue and return.
    #[arg(long, conflicts_with = "dry_run")]
    pub event: bool,
    /// Only check that the invocation would be accepted (InvocationType DryRun).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the tail of the invocation's log to stderr.
    #[arg(long)]
    pub tail: bool,
}

impl InvokeArgs {
    fn invocation_type(&self) -> InvocationType {
        match (self.event, self.dry_run) {
            (true, _) => InvocationType::Event,
            (_, true) => InvocationType::DryRun,
            _ => InvocationType::RequestResponse,
        }
    }

    fn payload(&self) -> anyhow::Result<Vec<u8>> {
        match (&self.payload, &self.payload_file) {
            (Some(text), _) => Ok(text.clone().into_bytes()),
            (None, Some(path)) => read_payload(path),
            (None, None) => Ok(DEFAULT_PAYLOAD.to_vec()),
        }
    }
}

fn read_payload(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("failed to read the payload from stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("failed to read payload file {}", path.display()))
}

/// Runs `ignis invoke`. A queued Event invocation prints its request id
/// (the one its log lines name): `{"StatusCode":202,"RequestId":…}` with
/// `--json`, a note on stderr without.
pub async fn run(client: &Client, args: InvokeArgs, json: bool) -> anyhow::Result<ExitCode> {
    let request = InvokeRequest {
        invocation_type: args.invocation_type(),
        tail: args.tail,
        payload: args.payload()?,
    };
    let out = client.invoke(&args.name, request).await?;
    if let Some(tail) = &out.log_tail {
        eprint!("{tail}");
        if !tail.is_empty() && !tail.ends_with('\n') {
            eprintln!();
        }
    }
    if json && out.status == 202 {
        output::print_json(&serde_json::json!({
            "StatusCode": out.status,
            "RequestId": out.request_id,
        }))?;
    } else {
        output::print_bytes(&out.payload)?;
    }
    if let Some(note) = outcome_note(&args.name, &out) {
        eprintln!("{note}");
    }
    Ok(if out.function_error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The line for stderr saying how the invocation ended, when there is news.
fn outcome_note(name: &str, out: &InvokeOutput) -> Option<String> {
    match (&out.function_error, out.status) {
        (Some(kind), _) => Some(format!("error: function {name} failed ({kind})")),
        (None, 202) => Some(match &out.request_id {
            Some(id) => format!("queued: {name} runs asynchronously (request id {id})"),
            None => format!("queued: {name} runs asynchronously"),
        }),
        (None, 204) => Some(format!("dry run: {name} would be invoked")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn invoke(args: &[&str]) -> Result<InvokeArgs, clap::Error> {
        let argv = ["ignis", "invoke"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Invoke(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn payload_comes_from_argument_file_or_default() {
        let args = invoke(&["f", r#"{"a":1}"#]).unwrap();
        assert_eq!(args.payload().unwrap(), br#"{"a":1}"#);
        assert_eq!(args.invocation_type(), InvocationType::RequestResponse);
        assert_eq!(invoke(&["f"]).unwrap().payload().unwrap(), b"{}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("event.json");
        std::fs::write(&file, "[1]").unwrap();
        let args = invoke(&["f", "--payload-file", file.to_str().unwrap()]).unwrap();
        assert_eq!(args.payload().unwrap(), b"[1]");
        let args = invoke(&["f", "--payload-file", "/nonexistent/x.json"]).unwrap();
        let err = args.payload().unwrap_err();
        assert!(format!("{err:#}").starts_with("failed to read payload file /nonexistent/x.json: "));
    }

    #[test]
    fn flags_choose_the_invocation_type() {
        let args = invoke(&["f", "--event", "--tail"]).unwrap();
        assert_eq!(args.invocation_type(), InvocationType::Event);
        assert!(args.tail);
        assert_eq!(
            invoke(&["f", "--dry-run"]).unwrap().invocation_type(),
            InvocationType::DryRun
        );
        assert!(invoke(&["f", "--event", "--dry-run"]).is_err());
        assert!(invoke(&["f", "{}", "--payload-file", "x"]).is_err());
        assert!(invoke(&[]).is_err());
    }

    #[test]
    fn function_errors_are_reported() {
        let out = InvokeOutput {
            status: 200,
            payload: Vec::new(),
            function_error: Some("Unhandled".into()),
            log_tail: None,
            executed_version: None,
            request_id: Some("r-1".into()),
        };
        assert_eq!(
            outcome_note("f", &out).unwrap(),
            "error: function f failed (Unhandled)"
        );
        let ok = InvokeOutput {
            function_error: None,
            ..out
        };
        assert_eq!(outcome_note("f", &ok), None);
        assert_eq!(
            outcome_note("f", &InvokeOutput { status: 202, ..ok }).unwrap(),
            "queued: f runs asynchronously (request id r-1)"
        );
    }
}
