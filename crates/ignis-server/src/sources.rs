//! Event source mappings on this node: the operations' service (for the
//! API) and the supervisor running their pollers on the node's queues and
//! router, stopped with the node.

use std::sync::Arc;

use ignis_router::Router;
use ignis_sources::sqs::poller::{Context, PollerConfig};
use ignis_sources::sqs::SqsRunner;
use ignis_sources::{Mappings, Runner, Supervisor};
use ignis_store::SqliteStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts the supervisor (every stored mapping's pollers start again);
/// the operations' service and the supervisor's task, which ends after
/// `stop` once the batches in flight have finished.
pub fn start(
    store: Arc<SqliteStore>,
    sqs: ignis_sqs::Sqs,
    router: Arc<Router>,
    region: &str,
    data_dir: &std::path::Path,
    stop: CancellationToken,
) -> (Mappings, JoinHandle<()>) {
    let mappings = Mappings::new(store, Arc::new(sqs.clone()), region);
    let reporter = mappings.clone();
    let context = Context {
        queues: Arc::new(sqs),
        invoker: router,
        region: region.to_owned(),
        config: PollerConfig::default(),
        report: Arc::new(move |m, result| reporter.report(&m.uuid, result)),
    };
    let rmq = ignis_sources::rmq::Context {
        invoker: context.invoker.clone(),
        data_dir: data_dir.to_path_buf(),
        backoff: ignis_rmq::Backoff::default(),
        report: context.report.clone(),
    };
    let runners: Vec<Arc<dyn Runner>> = vec![
        Arc::new(SqsRunner(Arc::new(context))),
        Arc::new(ignis_sources::rmq::RmqRunner(Arc::new(rmq))),
    ];
    let supervisor = Supervisor::new(mappings.clone(), runners);
    let task = tokio::spawn(supervisor.run(stop));
    (mappings, task)
}
