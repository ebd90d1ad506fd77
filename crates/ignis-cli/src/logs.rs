//! `ignis logs`: print a function's log lines, and with `--follow` keep
//! long-polling for new ones until Ctrl-C.

use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use ignis_client::{Client, LogQuery};
use ignis_model::logs::{LogEvent, LogPage};

use crate::output;
use crate::since::{self, Since};

/// Seconds each `--follow` request waits for new lines.
const FOLLOW_WAIT_SECS: u32 = 20;
/// How often `--follow` tries again while the server is unreachable.
const FOLLOW_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Arguments of `ignis logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Function name.
    pub name: String,
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// Only lines since then: a duration back from now (30s, 10m, 1h) or an RFC 3339 time.
    #[arg(long, value_parser = since::parse, value_name = "WHEN")]
    pub since: Option<Since>,
}

/// Runs `ignis logs`.
pub async fn run(client: &Client, args: LogsArgs, json: bool) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = print_lines(client, &args, json) => result.map(|()| ExitCode::SUCCESS),
        // Interrupted, as a shell reports it (128 + SIGINT).
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::from(130)),
    }
}

async fn print_lines(client: &Client, args: &LogsArgs, json: bool) -> anyhow::Result<()> {
    let mut query = LogQuery {
        since_ms: args.since.map(|s| s.to_epoch_ms(Utc::now())),
        wait_secs: args.follow.then_some(FOLLOW_WAIT_SECS),
        ..LogQuery::default()
    };
    // Whether the server answered once: only then is a stop a restart to
    // wait for, not a wrong endpoint to report.
    let (mut reached, mut waiting) = (false, false);
    loop {
        let page = match client.logs(&args.name, &query).await {
            Ok(page) => page,
            // A followed server that stops (a restart) is waited for, also
            // when it went away in the middle of a long poll: its successor
            // numbers its lines after the old ones.
            Err(e) if args.follow && reached && e.is_transport() => {
                if !waiting {
                    eprintln!("{e}; still following, retrying every second");
                    waiting = true;
                }
                tokio::time::sleep(FOLLOW_RETRY).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        reached = true;
        if waiting {
            eprintln!("following again");
            waiting = false;
        }
        output::print(&render(&page, json)?)?;
        if !args.follow && !advances(&query, &page) {
            return Ok(());
        }
        query.after = Some(page.next_seq);
        query.since_ms = None;
    }
}

/// Whether another request may bring more lines: this page had some and the
/// position moved on.
fn advances(query: &LogQuery, page: &LogPage) -> bool {
    !page.events.is_empty() && query.after.is_none_or(|after| page.next_seq > after)
}

/// The page's lines: `<RFC 3339 time> <message>`, or one JSON object a line.
fn render(page: &LogPage, json: bool) -> anyhow::Result<String> {
    let mut text = String::new();
    for event in &page.events {
        let line = if json {
            serde_json::to_string(event)?
        } else {
            human_line(event)
        };
        text.push_str(&line);
        text.push('\n');
    }
    Ok(text)
}

fn human_line(event: &LogEvent) -> String {
    let time = DateTime::<Utc>::from_timestamp_millis(event.timestamp)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| event.timestamp.to_string());
    format!("{time} {}", event.message)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn event(seq: u64, message: &str) -> LogEvent {
        LogEvent {
            seq,
            timestamp: 1_714_564_800_123,
            stream: "s".into(),
            message: message.into(),
        }
    }

    #[test]
    fn lines_are_time_then_message() {
        let page = LogPage {
            events: vec![event(1, "hello"), event(2, "world")],
            next_seq: 2,
        };
        assert_eq!(
            render(&page, false).unwrap(),
            "2024-05-01T12:00:00.123Z hello\n2024-05-01T12:00:00.123Z world\n"
        );
        let json = render(&page, true).unwrap();
        let first: LogEvent = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first, page.events[0]);
    }

    #[test]
    fn reading_stops_at_an_empty_or_stuck_page() {
        let empty = LogPage {
            events: vec![],
            next_seq: 3,
        };
        let full = LogPage {
            events: vec![event(4, "x")],
            next_seq: 4,
        };
        assert!(!advances(&LogQuery::default(), &empty));
        assert!(advances(&LogQuery::default(), &full));
        assert!(advances(
            &LogQuery {
                after: Some(3),
                ..Default::default()
            },
            &full
        ));
        assert!(!advances(
            &LogQuery {
                after: Some(4),
                ..Default::default()
            },
            &full
        ));
    }

    #[test]
    fn follow_and_since_are_parsed() {
        let cli = Cli::try_parse_from(["ignis", "logs", "f", "-f", "--since", "10m"]).unwrap();
        let Command::Logs(args) = cli.command else {
            panic!("not logs")
        };
        assert!(args.follow);
        assert_eq!(
            args.since,
            Some(Since::Ago(std::time::Duration::from_secs(600)))
        );
        let err = Cli::try_parse_from(["ignis", "logs", "f", "--since", "soon"]).unwrap_err();
        assert!(err.to_string().contains("expected a duration"), "{err}");
    }
}
