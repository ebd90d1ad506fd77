//! `ignis functions list|get|delete`.

use std::process::ExitCode;

use clap::Subcommand;
use ignis_client::{AsyncBacklog, Client};
use ignis_model::wire::{FunctionConfiguration, GetFunctionResponse, ListFunctionsResponse};

use crate::output;

/// The `functions` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum FunctionsCommand {
    /// List every function.
    List,
    /// Show one function.
    Get {
        /// Function name.
        name: String,
    },
    /// Delete a function.
    Delete {
        /// Function name.
        name: String,
    },
}

/// Runs a `functions` subcommand.
pub async fn run(client: &Client, cmd: FunctionsCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        FunctionsCommand::List => {
            let functions = client.list_all_functions().await?;
            if json {
                output::print_json(&ListFunctionsResponse {
                    functions,
                    next_marker: None,
                })?;
            } else {
                output::print(&list_table(&functions))?;
            }
        }
        FunctionsCommand::Get { name } => {
            let function = client.get_function(&name).await?;
            if json {
                output::print_json(&function)?;
            } else {
                let backlog = client.async_backlog(&name).await?;
                output::print(&details(&function, Some(&backlog)))?;
            }
        }
        FunctionsCommand::Delete { name } => {
            client.delete_function(&name).await?;
            if !json {
                output::print(&format!("deleted function {name}\n"))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list_table(functions: &[FunctionConfiguration]) -> String {
    if functions.is_empty() {
        return "no functions\n".to_string();
    }
    let rows: Vec<Vec<String>> = functions
        .iter()
        .map(|f| {
            vec![
                f.function_name.clone(),
                f.runtime.clone().unwrap_or_else(|| "-".into()),
                f.memory_size.to_string(),
                f.timeout.to_string(),
                format!("{:?}", f.state),
                f.last_modified.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME",
            "RUNTIME",
            "MEMORY",
            "TIMEOUT",
            "STATE",
            "LAST MODIFIED",
        ],
        &rows,
    )
}

fn details(function: &GetFunctionResponse, backlog: Option<&AsyncBacklog>) -> String {
    let c = &function.configuration;
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut state = format!("{:?}", c.state);
    if let Some(reason) = &c.state_reason {
        state = format!("{state} ({reason})");
    }
    let mut pairs = vec![
        ("name", c.function_name.clone()),
        ("arn", c.function_arn.clone()),
        ("runtime", or_dash(&c.runtime)),
        ("handler", or_dash(&c.handler)),
        ("role", c.role.clone()),
        ("memory", format!("{} MB", c.memory_size)),
        ("timeout", format!("{} s", c.timeout)),
        ("code size", output::size(c.code_size)),
        ("code sha256", c.code_sha256.clone()),
        ("state", state),
        ("last update", format!("{:?}", c.last_update_status)),
        ("last modified", c.last_modified.clone()),
    ];
    if !c.description.is_empty() {
        pairs.push(("description", c.description.clone()));
    }
    for (key, value) in c.environment.iter().flat_map(|e| &e.variables) {
        pairs.push(("env", format!("{key}={value}")));
    }
    if let Some(b) = backlog {
        pairs.push(("async queue", async_queue(b)));
    }
    output::fields(&pairs)
}

/// `3 events (1 running or waiting for capacity), oldest 12.5 s`.
fn async_queue(b: &AsyncBacklog) -> String {
    match b.oldest_age_seconds {
        Some(age) if b.queued > 0 => format!(
            "{} event{} ({} running or waiting for capacity), oldest {age:.1} s",
            b.queued,
            if b.queued == 1 { "" } else { "s" },
            b.claimed
        ),
        _ => "empty".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::config;

    #[test]
    fn list_is_a_table() {
        let text = list_table(&[config("hello"), config("a-much-longer-name")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("NAME                RUNTIME"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("hello               provided.al2023  128"),
            "{text}"
        );
        assert_eq!(list_table(&[]), "no functions\n");
    }

    #[test]
    fn details_show_the_configuration() {
        let response = GetFunctionResponse {
            configuration: config("hello"),
            code: ignis_model::wire::FunctionCodeLocation {
                repository_type: "S3".into(),
                location: "http://x".into(),
            },
            tags: None,
            concurrency: None,
        };
        let text = details(&response, None);
        assert!(text.contains("name           hello\n"), "{text}");
        assert!(text.contains("code size      2.0 KiB\n"), "{text}");
        assert!(text.contains("env            A=1\n"), "{text}");
        assert!(!text.contains("description"), "{text}");
        assert!(!text.contains("async queue"), "{text}");

        let backlog = AsyncBacklog {
            function_name: "hello".into(),
            queued: 3,
            claimed: 1,
            oldest_age_seconds: Some(12.46),
        };
        let text = details(&response, Some(&backlog));
        assert!(
            text.contains(
                "async queue    3 events (1 running or waiting for capacity), oldest 12.5 s\n"
            ),
            "{text}"
        );
        let empty = AsyncBacklog {
            queued: 0,
            claimed: 0,
            oldest_age_seconds: None,
            ..backlog
        };
        assert!(details(&response, Some(&empty)).contains("async queue    empty\n"));
    }
}
