//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency, stored as the function's `concurrency`
//! setting and enforced by the router (a function never runs more
//! invocations at once than its reservation; what is reserved is taken
//! from what the other functions share).

use ignis_model::{ErrorKind, LambdaError};

use super::Functions;
use crate::error::ApiError;

/// The settings kind of a function's reserved concurrency.
pub const CONCURRENCY: &str = "concurrency";

/// Lambda keeps this much of the account's concurrency unreserved.
pub const MIN_UNRESERVED: u32 = 100;

/// The reserved-concurrency document (stored as it is answered).
pub use ignis_model::wire::Concurrency as Reservation;

impl Functions {
    /// PutFunctionConcurrency.
    pub async fn put_concurrency(
        &self,
        reference: &str,
        req: Reservation,
    ) -> Result<Reservation, ApiError> {
        let name = self.resolve_name(reference, None)?;
        let Some(wanted) = req.reserved_concurrent_executions else {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null",
            )
            .into());
        };
        let Ok(wanted) = u32::try_from(wanted) else {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: Value '{wanted}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"),
            )
            .into());
        };
        let node = self.router.concurrency().clone();
        let document = serde_json::to_string(&Reservation {
            reserved_concurrent_executions: Some(i64::from(wanted)),
        })
        .map_err(|e| ApiError::internal("encode the reservation", &e))?;
        self.store
            .edit_setting(
                &name,
                "",
                CONCURRENCY,
                Box::new(move |current| {
                    let current = current
                        .and_then(|d| serde_json::from_str::<Reservation>(d).ok())
                        .and_then(|r| r.reserved_concurrent_executions)
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0);
                    // What the other functions reserve, and what would stay
                    // unreserved with this reservation.
                    let others = node.reserved_total().saturating_sub(current);
                    let total = u64::from(others) + u64::from(wanted);
                    if total + u64::from(MIN_UNRESERVED) > u64::from(node.limit()) {
                        return Err(LambdaError::invalid(format!(
                            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                        )));
                    }
                    Ok(Some(document))
                }),
            )
            .await
            .map_err(|e| self.setting_error(&name, e))?;
        self.router.set_reserved_concurrency(&name, Some(wanted));
        tracing::info!(function = %name, reserved = wanted, "reserved concurrency set");
        Ok(Reservation {
            reserved_concurrent_executions: Some(i64::from(wanted)),
        })
    }

    /// GetFunctionConcurrency (an empty object without a reservation).
    pub async fn get_concurrency(&self, reference: &str) -> Result<Reservation, ApiError> {
        let name = self.resolve_name(reference, None)?;
        if self.store.get_function(&name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&self.arn(&name))));
        }
        self.reservation(&name).await
    }

    /// The stored reservation of `name`.
    pub async fn reservation(&self, name: &str) -> Result<Reservation, ApiError> {
        let stored = self.store.get_setting(name, "", CONCURRENCY).await?;
        Ok(stored
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default())
    }

    /// DeleteFunctionConcurrency.
    pub async fn delete_concurrency(&self, reference: &str) -> Result<(), ApiError> {
        let name = self.resolve_name(reference, None)?;
        self.store
            .edit_setting(&name, "", CONCURRENCY, Box::new(|_| Ok(None)))
            .await
            .map_err(|e| self.setting_error(&name, e))?;
        self.router.set_reserved_concurrency(&name, None);
        tracing::info!(function = %name, "reserved concurrency removed");
        Ok(())
    }

    /// Gives the router every stored reservation (start-up).
    pub(super) async fn load_reservations(&self) -> Result<(), ApiError> {
        for s in self.store.list_settings(CONCURRENCY).await? {
            let reserved = serde_json::from_str::<Reservation>(&s.document)
                .ok()
                .and_then(|r| r.reserved_concurrent_executions)
                .and_then(|n| u32::try_from(n).ok());
            self.router.set_reserved_concurrency(&s.function, reserved);
        }
        Ok(())
    }

    fn setting_error(&self, name: &str, e: ignis_store::StoreError) -> ApiError {
        match e {
            ignis_store::StoreError::NotFound(_) => {
                ApiError(LambdaError::function_not_found(&self.arn(name)))
            }
            ignis_store::StoreError::Refused(e) => ApiError(e),
            e => e.into(),
        }
    }
}
