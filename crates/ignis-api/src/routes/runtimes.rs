//! `GET /ignis/v1/runtimes`: what this node can run (`ignis runtimes`).

use axum::extract::State;
use axum::Json;
use ignis_model::runtime::{RuntimeInfo, RuntimeList};
use ignis_runtimes::Resolved;

use crate::AppState;

/// Lists every runtime identifier and what runs it here.
pub async fn list(State(s): State<AppState>) -> Json<RuntimeList> {
    let runtimes = s
        .functions
        .router()
        .catalog()
        .list()
        .into_iter()
        .map(|status| {
            let (available, runs_on, reason) = match &status.resolved {
                Ok(Resolved::Custom) => (true, Some("bootstrap".to_string()), None),
                Ok(Resolved::Managed(l)) => (
                    true,
                    Some(
                        l.substitute
                            .clone()
                            .unwrap_or_else(|| status.runtime.to_string()),
                    ),
                    None,
                ),
                Err(e) => (false, None, Some(e.to_string())),
            };
            RuntimeInfo {
                runtime: status.runtime.to_string(),
                available,
                runs_on,
                interpreter: status.interpreter.map(|p| p.display().to_string()),
                reason,
            }
        })
        .collect();
    Json(RuntimeList { runtimes })
}
