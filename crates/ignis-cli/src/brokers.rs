//! `ignis brokers` and `ignis secrets`: the node-local registries the
//! RabbitMQ event source reads (`docs/event-sources.md`). Like `ignis
//! credentials` they work on the server's data directory directly, not
//! through the API: a broker's address and a secret's password are the
//! operator's, set where the server runs, and the secret is sealed with
//! the node's master key, which never leaves that directory.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ignis_model::arn::ACCOUNT_ID;
use ignis_model::local::default_data_dir;
use ignis_rmq::arn::{broker_arn, secret_arn};
use ignis_rmq::brokers::BrokerRegistry;
use ignis_rmq::secrets::{BasicAuth, SecretStore};

/// Where the registries are.
#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    /// The server's data directory [default: the XDG data dir, as `ignis serve`].
    #[arg(long, env = "IGNIS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    fn dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

/// `ignis brokers …`: where the brokers named by Amazon MQ ARNs listen.
#[derive(Debug, Subcommand)]
pub enum BrokersCommand {
    /// Register (or re-point) a RabbitMQ broker; prints the broker ARN to
    /// give CreateEventSourceMapping as EventSourceArn.
    Add {
        /// The broker's name (the ARN's broker name).
        name: String,
        /// `amqp://host[:port]` or `amqps://host[:port]` (TLS).
        url: String,
        /// For amqps: PEM CA certificates to check the broker's certificate
        /// against [default: the public roots].
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// Data directory.
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// List the registered brokers and their ARNs.
    List {
        /// Data directory.
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// Forget a broker.
    Remove {
        /// The broker's name.
        name: String,
        /// Data directory.
        #[command(flatten)]
        data: DataDirArgs,
    },
}

/// `ignis secrets …`: the credentials mappings name in BASIC_AUTH.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store (or replace) a user name and password; prints the secret ARN
    /// to give as the BASIC_AUTH source access configuration's URI.
    Put {
        /// The secret's name.
        name: String,
        /// The user name.
        #[arg(long)]
        username: String,
        /// The password (or --password-stdin).
        #[arg(
            long,
            env = "IGNIS_SECRET_PASSWORD",
            hide_env_values = true,
            conflicts_with = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
        /// Data directory.
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// List the stored secrets' ARNs (never their values).
    List {
        /// Data directory.
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// Delete a secret.
    Delete {
        /// The secret's name.
        name: String,
        /// Data directory.
        #[command(flatten)]
        data: DataDirArgs,
    },
}

fn region() -> String {
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| ignis_model::arn::DEFAULT_REGION.to_string())
}

fn print(json: bool, value: serde_json::Value, text: String) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

/// Runs `ignis brokers …`.
pub fn run_brokers(cmd: BrokersCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        BrokersCommand::Add {
            name,
            url,
            ca_file,
            data,
        } => {
            let broker = BrokerRegistry::new(&data.dir()).add(&name, &url, ca_file.as_deref())?;
            let arn = broker_arn(&region(), ACCOUNT_ID, &name, &broker.id);
            print(
                json,
                serde_json::json!({"Name": name, "Url": broker.url, "BrokerArn": arn}),
                arn.clone(),
            );
        }
        BrokersCommand::List { data } => {
            let brokers = BrokerRegistry::new(&data.dir()).list()?;
            let rows: Vec<serde_json::Value> = brokers
                .iter()
                .map(|(name, b)| {
                    serde_json::json!({
                        "Name": name,
                        "Url": b.url,
                        "BrokerArn": broker_arn(&region(), ACCOUNT_ID, name, &b.id),
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::json!({ "Brokers": rows }));
            } else {
                for row in &rows {
                    println!(
                        "{}\t{}\t{}",
                        row["Name"].as_str().unwrap_or_default(),
                        row["Url"].as_str().unwrap_or_default(),
                        row["BrokerArn"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        BrokersCommand::Remove { name, data } => BrokerRegistry::new(&data.dir()).remove(&name)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Runs `ignis secrets …`.
pub fn run_secrets(cmd: SecretsCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        SecretsCommand::Put {
            name,
            username,
            password,
            password_stdin,
            data,
        } => {
            let password = match (password, password_stdin) {
                (_, true) => password_from_stdin()?,
                (Some(p), false) => p,
                (None, false) => {
                    anyhow::bail!("give the password with --password or --password-stdin")
                }
            };
            let auth = BasicAuth { username, password };
            SecretStore::open(&data.dir())?.put(&name, &auth)?;
            let arn = secret_arn(&region(), ACCOUNT_ID, &name);
            print(
                json,
                serde_json::json!({"Name": name, "ARN": arn}),
                arn.clone(),
            );
        }
        SecretsCommand::List { data } => {
            let names = SecretStore::open(&data.dir())?.list()?;
            let arns: Vec<String> = names
                .iter()
                .map(|n| secret_arn(&region(), ACCOUNT_ID, n))
                .collect();
            if json {
                println!("{}", serde_json::json!({ "SecretList": arns }));
            } else {
                for arn in arns {
                    println!("{arn}");
                }
            }
        }
        SecretsCommand::Delete { name, data } => SecretStore::open(&data.dir())?.delete(&name)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_brokers_land_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDirArgs {
            data_dir: Some(dir.path().to_path_buf()),
        };
        run_brokers(
            BrokersCommand::Add {
                name: "main".into(),
                url: "amqp://127.0.0.1:5672".into(),
                ca_file: None,
                data: data.clone(),
            },
            true,
        )
        .unwrap();
        assert_eq!(
            BrokerRegistry::new(dir.path())
                .resolve("main")
                .unwrap()
                .port,
            5672
        );
        run_secrets(
            SecretsCommand::Put {
                name: "rabbit".into(),
                username: "u".into(),
                password: Some("p".into()),
                password_stdin: false,
                data: data.clone(),
            },
            true,
        )
        .unwrap();
        let auth = SecretStore::open(dir.path())
            .unwrap()
            .get("rabbit")
            .unwrap();
        assert_eq!((auth.username.as_str(), auth.password.as_str()), ("u", "p"));
        let missing = run_secrets(
            SecretsCommand::Put {
                name: "x".into(),
                username: "u".into(),
                password: None,
                password_stdin: false,
                data: data.clone(),
            },
            true,
        );
        assert!(missing.is_err());
        assert!(run_brokers(
            BrokersCommand::Remove {
                name: "nope".into(),
                data
            },
            true
        )
        .is_err());
    }
}
