//! A router serving one function whose runtime is a script, for the tests
//! of this crate and of the crates above it (feature `testing`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ignis_model::FunctionRecord;
use ignis_runtimes::Catalog;
use ignis_sandbox::Sandbox;

use crate::{FunctionSpec, Router, RouterConfig};

/// A router in `dir` (region `us-east-1`, a `budget_mb` memory budget)
/// on `sandbox`, serving `record` whose code is a `bootstrap` holding
/// `runtime`.
pub fn script_router(
    dir: &Path,
    runtime: &str,
    budget_mb: u64,
    sandbox: Arc<dyn Sandbox>,
    record: FunctionRecord,
) -> Arc<Router> {
    let code = dir.join("code");
    std::fs::create_dir_all(&code).expect("create the code dir");
    let bootstrap = code.join("bootstrap");
    std::fs::write(&bootstrap, runtime).expect("write the bootstrap");
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
        .expect("make the bootstrap executable");
    let router = Router::new(
        RouterConfig {
            region: "us-east-1".into(),
            envs_dir: dir.join("envs"),
            memory_budget_mb: budget_mb,
            idle_timeout: Duration::from_secs(300),
            keepalive: crate::keepalive::Mode::Fixed,
            init_timeout: Duration::from_secs(10),
            log_max_bytes: 1 << 20,
            concurrency_limit: None,
        },
        sandbox,
        Arc::new(Catalog::with_interpreters(dir, false, Vec::new())),
    );
    router.upsert(FunctionSpec {
        record,
        code_dir: code,
        opt_dir: None,
    });
    router
}
