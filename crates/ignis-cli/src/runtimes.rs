//! `ignis runtimes`: what the server's node can run.

use std::fmt::Write;
use std::process::ExitCode;

use ignis_client::Client;
use ignis_model::runtime::RuntimeInfo;

use crate::output;

/// Prints every runtime and what runs it.
pub async fn run(client: &Client, json: bool) -> anyhow::Result<ExitCode> {
    let list = client.runtimes().await?;
    if json {
        output::print_json(&list)?;
    } else {
        output::print(&table(&list.runtimes))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn table(runtimes: &[RuntimeInfo]) -> String {
    let mut out = format!(
        "{:<18} {:<10} {:<16} {}\n",
        "RUNTIME", "AVAILABLE", "RUNS ON", "INTERPRETER / REASON"
    );
    for r in runtimes {
        let detail = r
            .interpreter
            .as_deref()
            .or(r.reason.as_deref())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "{:<18} {:<10} {:<16} {detail}",
            r.runtime,
            if r.available { "yes" } else { "no" },
            r.runs_on.as_deref().unwrap_or("-"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_substitutes_and_reasons() {
        let rows = [
            RuntimeInfo {
                runtime: "python3.14".into(),
                available: true,
                runs_on: Some("python3.13".into()),
                interpreter: Some("/usr/bin/python3.13".into()),
                reason: None,
            },
            RuntimeInfo {
                runtime: "ruby3.3".into(),
                available: false,
                runs_on: None,
                interpreter: None,
                reason: Some("not supported".into()),
            },
        ];
        let t = table(&rows);
        assert!(
            t.contains("python3.14") && t.contains("python3.13") && t.contains("not supported")
        );
    }
}
