//! `ignis deploy`: create the function, or update its code and configuration
//! when it exists, then wait until it is ready to invoke.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ignis_client::{Client, CreateFunction, UpdateFunctionConfiguration};
use ignis_model::wire::{Environment, FunctionConfiguration};
use ignis_model::{FunctionState, LastUpdateStatus};
use tokio::time::Instant;

use crate::{handler, output, package};

/// The role used when `--role` is not given; Ignis does not check roles.
pub const DEFAULT_ROLE: &str = "arn:aws:iam::000000000000:role/ignis";
/// How often the function's state is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long to wait for the function to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments of `ignis deploy`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// A folder to zip, or a .zip file.
    pub path: PathBuf,
    /// Function name.
    #[arg(long)]
    pub name: String,
    /// Runtime identifier.
    #[arg(long, default_value = "provided.al2023")]
    pub runtime: String,
    /// Handler [default: `bootstrap` for provided.*; for Python and
    /// Node.js the one handler of the package's only source file, when
    /// there is exactly one].
    #[arg(long)]
    pub handler: Option<String>,
    /// Memory, MB [default: the server's; unchanged on update].
    #[arg(long, value_name = "MB")]
    pub memory: Option<u32>,
    /// Timeout, seconds [default: the server's; unchanged on update].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Environment variable; repeat for more. Given any, they replace all.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,
    /// Execution role ARN.
    #[arg(long, env = "IGNIS_ROLE", default_value = DEFAULT_ROLE)]
    pub role: String,
    /// Description [unchanged on update when not given].
    #[arg(long)]
    pub description: Option<String>,
}

impl DeployArgs {
    fn environment(&self) -> Option<Environment> {
        (!self.env.is_empty()).then(|| Environment {
            variables: self.env.iter().cloned().collect(),
        })
    }

    fn create_request(&self, zip: &[u8], handler: &str) -> CreateFunction {
        let mut req = CreateFunction::new(&self.name, &self.role, zip);
        req.runtime = Some(self.runtime.clone());
        req.handler = Some(handler.to_string());
        req.description = self.description.clone();
        req.timeout = self.timeout.map(i64::from);
        req.memory_size = self.memory.map(i64::from);
        req.environment = self.environment();
        req
    }

    fn update_request(&self, handler: &str) -> UpdateFunctionConfiguration {
        UpdateFunctionConfiguration {
            role: Some(self.role.clone()),
            runtime: Some(self.runtime.clone()),
            handler: Some(handler.to_string()),
            description: self.description.clone(),
            timeout: self.timeout.map(i64::from),
            memory_size: self.memory.map(i64::from),
            environment: self.environment(),
        }
    }
}

/// Parses `KEY=VALUE`; the value may hold `=` and may be empty.
fn parse_env_pair(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {pair:?}")),
    }
}

/// Runs `ignis deploy`.
pub async fn run(client: &Client, args: DeployArgs, json: bool) -> anyhow::Result<ExitCode> {
    let zip = package::load(&args.path)?;
    let handler = match &args.handler {
        Some(handler) => handler.clone(),
        None => handler::infer(&args.runtime, &zip)?,
    };
    let verb = match client
        .create_function(&args.create_request(&zip, &handler))
        .await
    {
        Ok(_) => "created",
        Err(err) if err.api_kind() == Some("ResourceConflictException") => {
            update(client, &args, &zip, &handler).await?;
            "updated"
        }
        Err(err) => return Err(err.into()),
    };
    let config = wait_ready(client, &args.name).await?;
    if json {
        output::print_json(&config)?;
    } else {
        output::print(&summary(verb, &config))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn update(
    client: &Client,
    args: &DeployArgs,
    zip: &[u8],
    handler: &str,
) -> anyhow::Result<()> {
    client.update_function_code(&args.name, zip).await?;
    wait_ready(client, &args.name).await?;
    client
        .update_function_configuration(&args.name, &args.update_request(handler))
        .await?;
    Ok(())
}

/// Where a function stands on its way to being invocable.
#[derive(Debug, PartialEq, Eq)]
enum Readiness {
    Ready,
    Waiting,
    Failed(String),
}

fn readiness(config: &FunctionConfiguration) -> Readiness {
    let reason = |r: &Option<String>| r.clone().unwrap_or_else(|| "no reason given".into());
    match (config.state, config.last_update_status) {
        (FunctionState::Failed, _) => Readiness::Failed(format!(
            "function {} failed to become active: {}",
            config.function_name,
            reason(&config.state_reason)
        )),
        (_, LastUpdateStatus::Failed) => Readiness::Failed(format!(
            "update of function {} failed: {}",
            config.function_name,
            reason(&config.last_update_status_reason)
        )),
        (FunctionState::Active, LastUpdateStatus::Successful) => Readiness::Ready,
        _ => Readiness::Waiting,
    }
}

/// Polls GetFunction until the function is Active and its last update
/// Successful.
async fn wait_ready(client: &Client, name: &str) -> anyhow::Result<FunctionConfiguration> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let config = client.get_function(name).await?.configuration;
        match readiness(&config) {
            Readiness::Ready => return Ok(config),
            Readiness::Failed(why) => anyhow::bail!(why),
            Readiness::Waiting if Instant::now() >= deadline => {
                return Err(anyhow::anyhow!(
                    "function {name} is {:?} with last update {:?}",
                    config.state,
                    config.last_update_status
                ))
                .context(format!(
                    "gave up waiting after {}s",
                    READY_TIMEOUT.as_secs()
                ));
            }
            Readiness::Waiting => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

fn summary(verb: &str, config: &FunctionConfiguration) -> String {
    let header = format!("{verb} function {}\n", config.function_name);
    let mut pairs = vec![
        (
            "  runtime",
            config.runtime.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "  handler",
            config.handler.clone().unwrap_or_else(|| "-".into()),
        ),
        ("  code sha256", config.code_sha256.clone()),
        ("  code size", output::size(config.code_size)),
        ("  state", format!("{:?}", config.state)),
    ];
    // The server runs it on another version of its language (or cannot
    // run it): said where the deploy is read.
    if let Some(reason) = config
        .state_reason
        .clone()
        .filter(|_| config.state_reason_code.is_some())
    {
        pairs.push(("  note", reason));
    }
    header + &output::fields(&pairs)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn deploy(args: &[&str]) -> DeployArgs {
        let argv = ["ignis", "deploy"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Deploy(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_runtime_handler_and_role() {
        let args = deploy(&["./fn", "--name", "hello"]);
        assert_eq!(args.path, PathBuf::from("./fn"));
        assert_eq!(args.runtime, "provided.al2023");
        assert_eq!(args.handler, None);
        assert_eq!(args.role, DEFAULT_ROLE);
        let json = serde_json::to_value(args.update_request("bootstrap")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Role": DEFAULT_ROLE, "Runtime": "provided.al2023", "Handler": "bootstrap"})
        );
    }

    #[test]
    fn every_flag_reaches_the_request() {
        let args = deploy(&[
            "fn.zip",
            "--name",
            "hello",
            "--memory",
            "256",
            "--timeout",
            "10",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--env",
            "C=",
            "--description",
            "hi",
            "--runtime",
            "provided.al2",
        ]);
        let json = serde_json::to_value(args.create_request(b"PK", "app.main")).unwrap();
        assert_eq!(json["Handler"], "app.main");
        assert_eq!(json["MemorySize"], 256);
        assert_eq!(json["Timeout"], 10);
        assert_eq!(json["Runtime"], "provided.al2");
        assert_eq!(json["Description"], "hi");
        assert_eq!(
            json["Environment"]["Variables"],
            serde_json::json!({"A": "1", "B": "x=y", "C": ""})
        );
        assert_eq!(json["Code"]["ZipFile"], "UEs=");
    }

    #[test]
    fn readiness_follows_state_and_last_update() {
        let mut c = crate::fixtures::config("f");
        assert_eq!(readiness(&c), Readiness::Ready);
        c.last_update_status = LastUpdateStatus::InProgress;
        assert_eq!(readiness(&c), Readiness::Waiting);
        c.state = FunctionState::Pending;
        c.last_update_status = LastUpdateStatus::Successful;
        assert_eq!(readiness(&c), Readiness::Waiting);
        c.state = FunctionState::Failed;
        c.state_reason = Some("bootstrap missing".into());
        assert_eq!(
            readiness(&c),
            Readiness::Failed("function f failed to become active: bootstrap missing".into())
        );
        c.state = FunctionState::Active;
        c.last_update_status = LastUpdateStatus::Failed;
        assert_eq!(
            readiness(&c),
            Readiness::Failed("update of function f failed: no reason given".into())
        );
    }

    #[test]
    fn summary_names_what_was_deployed() {
        let text = summary("created", &crate::fixtures::config("hello"));
        assert_eq!(
            text,
            "created function hello\n  runtime      provided.al2023\n  handler      bootstrap\n  code sha256  abc=\n  code size    2.0 KiB\n  state        Active\n"
        );
        let mut c = crate::fixtures::config("hello");
        c.runtime = Some("nodejs22.x".into());
        c.state_reason = Some("nodejs22.x is not installed on this node; the function runs on nodejs20.x (Node.js 20.20.2)".into());
        c.state_reason_code = Some("RuntimeSubstituted".into());
        assert!(summary("created", &c).ends_with(
            "  note         nodejs22.x is not installed on this node; the function runs on nodejs20.x (Node.js 20.20.2)\n"
        ));
    }

    #[test]
    fn bad_arguments_are_refused() {
        let base = ["ignis", "deploy", "fn"];
        assert!(Cli::try_parse_from(base).is_err(), "--name is required");
        for bad in [["--env", "NOEQUALS"], ["--env", "=v"], ["--memory", "lots"]] {
            let argv = base.iter().chain(&["--name", "x"]).chain(&bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
