//! The `ignis` command line: its arguments (clap, with environment fallbacks)
//! and the client-side commands, which talk to a server only through
//! `ignis-client`. `ignis serve` is parsed here into [`ServeArgs`] and run by
//! the binary, which owns the server.
#![deny(missing_docs)]

mod brokers;
mod credentials;
mod deploy;
#[cfg(test)]
mod fixtures;
mod functions;
mod handler;
mod invoke;
mod logs;
mod output;
mod package;
mod runtimes;
mod serve;
mod since;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ignis_client::Client;

pub use brokers::{BrokersCommand, SecretsCommand};
pub use deploy::DeployArgs;
pub use functions::FunctionsCommand;
pub use invoke::InvokeArgs;
pub use logs::LogsArgs;
pub use serve::{KeepAlive, ServeArgs};

/// The endpoint used when neither `--endpoint` nor `IGNIS_ENDPOINT` is set.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9000";

/// Ignis: a self-hosted, AWS Lambda-compatible function platform.
#[derive(Debug, Parser)]
#[command(name = "ignis", version, propagate_version = true)]
pub struct Cli {
    /// Options of every client command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to every command talking to a server.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// URL of the Ignis server.
    #[arg(long, global = true, env = "IGNIS_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Print machine-readable JSON instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Ignis server.
    Serve(ServeArgs),
    /// Create or update a function from a folder or a .zip file.
    Deploy(DeployArgs),
    /// Invoke a function and print its response.
    Invoke(InvokeArgs),
    /// Print a function's log lines.
    Logs(LogsArgs),
    /// List, show or delete functions.
    #[command(subcommand)]
    Functions(FunctionsCommand),
    /// List the runtimes the server's node can run.
    Runtimes,
    /// Write an AWS CLI profile (or print `export` lines) for the server's
    /// root access key.
    Credentials(credentials::CredentialsArgs),
    /// Register the RabbitMQ brokers event source mappings name (in the
    /// server's data directory).
    #[command(subcommand)]
    Brokers(BrokersCommand),
    /// Store the credentials event source mappings name in BASIC_AUTH
    /// (sealed in the server's data directory).
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

/// Runs a client command; prints failures as one `error: …` line on stderr.
/// Exit code 0 on success, 1 on any failure (including a function error).
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", output::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let json = cli.global.json;
    let client = || {
        Client::new(&cli.global.endpoint).map(|c| match credentials::client_credentials() {
            Some(key) => c.with_credentials(key),
            None => c,
        })
    };
    match cli.command {
        Command::Serve(_) => {
            anyhow::bail!("`serve` is run by the ignis binary, not by ignis_cli::run")
        }
        Command::Deploy(args) => deploy::run(&client()?, args, json).await,
        Command::Invoke(args) => invoke::run(&client()?, args, json).await,
        Command::Logs(args) => logs::run(&client()?, args, json).await,
        Command::Functions(cmd) => functions::run(&client()?, cmd, json).await,
        Command::Runtimes => runtimes::run(&client()?, json).await,
        Command::Brokers(cmd) => brokers::run_brokers(cmd, json),
        Command::Secrets(cmd) => brokers::run_secrets(cmd, json),
        Command::Credentials(args) => {
            credentials::run(args, &cli.global.endpoint)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let cli = parse(&[
            "ignis",
            "--endpoint",
            "http://h:1",
            "functions",
            "list",
            "--json",
        ]);
        assert_eq!(cli.global.endpoint, "http://h:1");
        assert!(cli.global.json);
        assert!(matches!(
            cli.command,
            Command::Functions(FunctionsCommand::List)
        ));
        let cli = parse(&["ignis", "logs", "f", "--endpoint", "http://h:2"]);
        assert_eq!(cli.global.endpoint, "http://h:2");
        assert!(!cli.global.json);
    }

    #[test]
    fn functions_subcommands_take_a_name() {
        let cli = parse(&["ignis", "functions", "get", "hello"]);
        assert!(
            matches!(cli.command, Command::Functions(FunctionsCommand::Get { name }) if name == "hello")
        );
        let cli = parse(&["ignis", "functions", "delete", "hello"]);
        assert!(
            matches!(cli.command, Command::Functions(FunctionsCommand::Delete { name }) if name == "hello")
        );
        assert!(Cli::try_parse_from(["ignis", "functions", "get"]).is_err());
    }

    #[test]
    fn unknown_commands_and_flags_are_errors_not_panics() {
        assert!(Cli::try_parse_from(["ignis"]).is_err());
        assert!(Cli::try_parse_from(["ignis", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["ignis", "invoke", "f", "--bogus"]).is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[tokio::test]
    async fn serve_is_not_run_here() {
        let cli = parse(&["ignis", "serve"]);
        assert_eq!(run(cli).await, ExitCode::FAILURE);
    }
}
