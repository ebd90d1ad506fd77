//! `ignis credentials` and the key the client commands sign with.
//!
//! The server makes the account's root access key on its first start, in
//! its data directory. `ignis credentials` writes an AWS CLI profile for it
//! (`~/.aws/credentials` and `~/.aws/config`, with `endpoint_url`), so
//! `aws --profile ignis lambda …` and every SDK reach Ignis signed; the
//! client commands sign with, in order: `IGNIS_ACCESS_KEY_ID` /
//! `IGNIS_SECRET_ACCESS_KEY`, `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
//! (with `AWS_SESSION_TOKEN`), or the root key of the data directory.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use ignis_client::Credentials;
use ignis_model::local::{default_data_dir, RootKey};

/// `ignis credentials`.
#[derive(Debug, Args)]
pub struct CredentialsArgs {
    /// The server's data directory [default: the XDG data dir, as `ignis serve`].
    #[arg(long, env = "IGNIS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The AWS CLI profile to write.
    #[arg(long, default_value = "ignis")]
    pub profile: String,
    /// Print shell `export` lines instead of writing the profile.
    #[arg(long)]
    pub print: bool,
}

fn region() -> String {
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| ignis_model::arn::DEFAULT_REGION.to_string())
}

fn read_root_key(data_dir: &Path) -> anyhow::Result<RootKey> {
    let path = RootKey::path(data_dir);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "read the root access key {} (`ignis serve` makes it on its first start; --data-dir names another server's)",
            path.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a root access key", path.display()))
}

/// The credentials the client commands sign with, if any can be found.
pub fn client_credentials() -> Option<Credentials> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let pair = |id: &str, secret: &str| Some((var(id)?, var(secret)?));
    if let Some((id, secret)) = pair("IGNIS_ACCESS_KEY_ID", "IGNIS_SECRET_ACCESS_KEY") {
        return Some(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: None,
            region: region(),
        });
    }
    if let Some((id, secret)) = pair("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") {
        return Some(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: var("AWS_SESSION_TOKEN"),
            region: region(),
        });
    }
    let dir = var("IGNIS_DATA_DIR").map_or_else(default_data_dir, PathBuf::from);
    let key = read_root_key(&dir).ok()?;
    Some(Credentials {
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
        session_token: None,
        region: region(),
    })
}

/// Runs `ignis credentials`.
pub fn run(args: CredentialsArgs, endpoint: &str) -> anyhow::Result<()> {
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let key = read_root_key(&dir)?;
    let region = region();
    if args.print {
        println!("export AWS_ACCESS_KEY_ID={}", key.access_key_id);
        println!("export AWS_SECRET_ACCESS_KEY={}", key.secret_access_key);
        println!("export AWS_REGION={region}");
        println!("export AWS_ENDPOINT_URL={endpoint}");
        return Ok(());
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws").join(default))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config = file("AWS_CONFIG_FILE", "config");
    set_section(
        &credentials,
        &args.profile,
        &[
            ("aws_access_key_id", &key.access_key_id),
            ("aws_secret_access_key", &key.secret_access_key),
        ],
    )?;
    let section = if args.profile == "default" {
        "default".to_string()
    } else {
        format!("profile {}", args.profile)
    };
    set_section(
        &config,
        &section,
        &[("region", &region), ("endpoint_url", endpoint)],
    )?;
    println!(
        "wrote profile {} ({} and {}): aws --profile {} lambda list-functions",
        args.profile,
        credentials.display(),
        config.display(),
        args.profile
    );
    Ok(())
}

/// Replaces (or adds) `[section]` of an INI file with `values`, keeping
/// every other section as it is; the file is private (0600).
fn set_section(path: &Path, section: &str, values: &[(&str, &str)]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let text = replace_section(&old, section, values);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    let tmp = path.with_extension("ignis-tmp");
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))
}

fn replace_section(old: &str, section: &str, values: &[(&str, &str)]) -> String {
    let header = format!("[{section}]");
    let mut out = String::new();
    let mut skipping = false;
    for line in old.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&header);
    out.push('\n');
    for (k, v) in values {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_and_the_others_kept() {
        let old = "[default]\naws_access_key_id = A\n\n[ignis]\naws_access_key_id = OLD\nx = 1\n[other]\ny = 2\n";
        let new = replace_section(old, "ignis", &[("aws_access_key_id", "NEW")]);
        assert!(new.contains("[default]\naws_access_key_id = A\n"), "{new}");
        assert!(new.contains("[other]\ny = 2\n"), "{new}");
        assert!(new.ends_with("[ignis]\naws_access_key_id = NEW\n"), "{new}");
        assert!(!new.contains("OLD") && !new.contains("x = 1"), "{new}");
        assert_eq!(replace_section("", "s", &[("k", "v")]), "[s]\nk = v\n");
    }
}
