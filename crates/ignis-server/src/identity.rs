//! The node's identity material for `ignis serve`: the master key every
//! temporary credential is derived from and verified with
//! (`docs/identity.md`, "Temporary credentials").

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ignis_identity::credentials::MasterKey;

/// The master key file's name in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Loads `<data_dir>/master.key`, or creates it (32 random bytes as hex,
/// mode 0600) on first start. The front verifies `ASIA…` credentials with
/// it; the router issues each execution environment's with it.
pub fn master_key(data_dir: &Path) -> anyhow::Result<Arc<MasterKey>> {
    let path = data_dir.join(MASTER_KEY_FILE);
    let key = MasterKey::load_or_create(&path)
        .with_context(|| format!("load or create the master key {}", path.display()))?;
    Ok(Arc::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_key_is_created_once_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = master_key(dir.path()).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = master_key(dir.path()).unwrap();
        let id = "ASIAEXAMPLEEXAMPLE00";
        assert_eq!(first.secret_for(id), again.secret_for(id));
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MASTER_KEY_FILE), "not hex\n").unwrap();
        let err = master_key(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("master.key"), "{err:#}");
    }
}
