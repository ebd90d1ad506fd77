//! `ignis serve`: resolves the configuration, opens the store, loads every
//! function into the router, serves the API and shuts down gracefully.
#![deny(missing_docs)]

mod config;
mod endpoint;
mod eventbridge;
pub mod identity;
mod node;
mod s3;
mod sandbox;
mod scheduler;
mod sinks;
mod sns;
mod sources;

use std::time::Duration;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use ignis_api::functions::Functions;
use ignis_api::AppState;
use ignis_events::{AsyncConfig, AsyncInvoker};
use ignis_model::limits::INIT_TIMEOUT_S;
use ignis_router::{Router, RouterConfig};
use ignis_runtimes::Catalog;
use ignis_store::{CodeStore, SqliteStore};
use tokio_util::sync::CancellationToken;

pub use config::{idle_timeout, KeepAlive, NetworkChoice, SandboxChoice, ServerConfig};
pub use sandbox::start_zygote;

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run(config: ServerConfig) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signal_stop.cancel();
    });
    serve(config, stop).await
}

fn auth_name(mode: ignis_front::AuthMode) -> &'static str {
    match mode {
        ignis_front::AuthMode::Open => "open",
        ignis_front::AuthMode::Enforce => "enforce",
    }
}

/// The mode callers are checked in, and why; `open` beyond loopback only
/// when asked for knowingly (`--insecure-open`).
fn auth_mode(config: &ServerConfig) -> anyhow::Result<(ignis_front::AuthMode, String)> {
    use ignis_front::AuthMode;
    let loopback = config.listen.ip().is_loopback();
    Ok(match (config.auth, loopback) {
        (Some(AuthMode::Enforce), _) => (
            AuthMode::Enforce,
            "--auth enforce: every request's SigV4 signature is verified and authorized by IAM policies".into(),
        ),
        (None, false) => (
            AuthMode::Enforce,
            format!("listening beyond loopback ({}): every request's SigV4 signature is verified", config.listen.ip()),
        ),
        (None, true) => (
            AuthMode::Open,
            "listening on loopback only: any access key is accepted and every caller is the root user; --auth enforce verifies signatures".into(),
        ),
        (Some(AuthMode::Open), true) => (
            AuthMode::Open,
            "--auth open: any access key is accepted and every caller is the root user".into(),
        ),
        (Some(AuthMode::Open), false) if config.insecure_open => {
            tracing::warn!(
                "--auth open on {}: ANYONE WHO CAN REACH THIS PORT CAN CREATE AND RUN CODE",
                config.listen
            );
            (
                AuthMode::Open,
                format!("--auth open --insecure-open on {}: ANY caller is accepted as the root user, unverified", config.listen.ip()),
            )
        }
        (Some(AuthMode::Open), false) => anyhow::bail!(
            "--auth open with --listen {} (beyond loopback) would let anyone who reaches it run code: use --auth enforce, or add --insecure-open",
            config.listen
        ),
    })
}

/// Runs the server until `stop` is cancelled.
pub async fn serve(config: ServerConfig, stop: CancellationToken) -> anyhow::Result<()> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("create data dir {}", data_dir.display()))?;
    let store = Arc::new(SqliteStore::open_in(data_dir).context("open the store")?);
    let code = CodeStore::open(data_dir).context("open the code store")?;
    let envs_dir = data_dir.join("envs");
    // Scratch directories of environments a previous run left behind.
    let _ = std::fs::remove_dir_all(&envs_dir);
    std::fs::create_dir_all(&envs_dir).context("create the environments dir")?;

    let chosen = sandbox::choose(
        config.sandbox,
        config.sandbox_root.as_deref(),
        config.network,
        config.network_pool_size,
        config.favordynmods,
        config.zygote.clone(),
        &data_dir.join("disks"),
        config.prewarm,
    )
    .await?;
    let (sandbox, sandbox_why, network) = (chosen.sandbox, chosen.why, chosen.network);
    let (cgroups, disks, prewarm) = (chosen.cgroups, chosen.disks, chosen.prewarm);
    let catalog = {
        let (dir, strict, paths, host_root) = (
            data_dir.join("runtimes"),
            config.strict_runtimes,
            config.runtime_paths.clone(),
            config.discovery_root.clone(),
        );
        let cache = config::cache_dir(data_dir);
        // Interpreters inside the custom base root, when environments get it.
        let root = (sandbox.name() == "namespace")
            .then(|| config.sandbox_root.clone())
            .flatten();
        tokio::task::spawn_blocking(move || {
            Catalog::discover(&dir, &cache, strict, &paths, root.as_deref(), &host_root)
        })
        .await
        .context("discover runtimes")?
        .context("install the runtime clients")?
    };
    let runtimes_summary = catalog.summary();
    let router = Router::new(
        RouterConfig {
            region: config.region.clone(),
            envs_dir,
            memory_budget_mb: config.memory_budget_mb,
            idle_timeout: config.idle_timeout,
            keepalive: config.keepalive,
            init_timeout: Duration::from_secs(INIT_TIMEOUT_S),
            log_max_bytes: config.log_max_bytes,
            concurrency_limit: config.concurrency_limit,
        },
        sandbox,
        Arc::new(catalog),
    );
    // Bound before any environment starts (loading functions starts their
    // provisioned ones), so they know where to reach Ignis.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("bind {}", config.listen))?;
    let addr = listener.local_addr().context("read the bound address")?;
    let mut endpoint = endpoint::FunctionEndpoint::bind(network.as_deref(), addr).await?;
    let master = identity::master_key(data_dir)?;
    router.set_credentials(Arc::new(identity::ExecutionCredentials::new(
        master.clone(),
        config.credentials_lifetime,
    )?));
    if let Some(url) = &endpoint.url {
        router.set_endpoint_url(url.clone());
    }
    let functions = Functions::new(store.clone(), code, router.clone(), config.region.clone());
    let removed = functions
        .collect_garbage()
        .await
        .map_err(|e| anyhow::anyhow!(e.0))
        .context("collect unused code")?;
    let loaded = functions
        .load_all()
        .await
        .map_err(|e| anyhow::anyhow!(e.0))
        .context("load functions")?;
    let (url_listener, url_note) = function_urls(&config, &functions, addr).await?;
    let events = AsyncInvoker::start(router.clone(), store.clone(), async_config()?);
    let (mode, auth_why) = auth_mode(&config)?;
    let (root, made) =
        <ignis_front::root_key::RootKey as ignis_front::root_key::RootKeyFile>::load_or_create(
            data_dir,
        )
        .context("load the root access key")?;
    let ids: Arc<dyn ignis_iam::Identity> =
        Arc::new(ignis_front::identity::IgnisIdentity::new(master.clone()));
    let iam = Arc::new(ignis_iam::Iam::new(store.clone(), ids.clone()));
    // The queue service: the front serves its API; event sources and
    // topics take a clone of the same engine.
    let sqs = ignis_sqs::Sqs::new(
        store.clone() as Arc<dyn ignis_store::SqsStore>,
        config.region.clone(),
    );
    // Topics: deliveries go to this node's functions and queues; the
    // dispatcher resumes what a previous process left.
    let topics = ignis_sns::Sns::new(ignis_sns::SnsConfig {
        store: store.clone() as Arc<dyn ignis_store::SnsStore>,
        targets: Arc::new(sns::NodeTargets {
            events: events.clone(),
            functions: functions.clone(),
            sqs: sqs.clone(),
        }),
        region: config.region.clone(),
        account: ignis_model::arn::ACCOUNT_ID.to_string(),
        base_url: own_url(addr),
        data_dir: data_dir.clone(),
        enforce: mode == ignis_front::AuthMode::Enforce,
    });
    let topics_dispatcher = topics.start(stop.clone()).await;
    // Event rules (EventBridge): deliveries go to this node's functions,
    // queues and topics; the dispatcher resumes what a previous process
    // left and fires scheduled rules.
    let rules = ignis_eventbridge::EventBridge::new(ignis_eventbridge::EventBridgeConfig {
        store: store.clone() as Arc<dyn ignis_store::EventBusStore>,
        targets: Arc::new(eventbridge::RuleTargets {
            events: events.clone(),
            functions: functions.clone(),
            sqs: sqs.clone(),
            sns: topics.clone(),
        }),
        region: config.region.clone(),
        account: ignis_model::arn::ACCOUNT_ID.to_string(),
        clock: Arc::new(ignis_eventbridge::SystemClock),
        enforce: mode == ignis_front::AuthMode::Enforce,
    });
    let rules_dispatcher = rules.start(stop.clone()).await;
    // Async invocations' queue, topic and event-bus destinations and
    // dead-letter queues and topics.
    events.set_sink(Arc::new(sinks::Services {
        sqs: sqs.clone(),
        sns: topics.clone(),
        events: rules.clone(),
    }));
    // Event source mappings: their pollers start again at once.
    let (mappings, sources_task) = sources::start(
        store.clone(),
        sqs.clone(),
        router.clone(),
        &config.region,
        data_dir,
        stop.clone(),
    );
    // EventBridge Scheduler: its engine fires due ticks (each once, across
    // processes sharing the store) to this node's functions, queues, topics.
    let schedules = ignis_scheduler::Scheduler::new(
        store.clone() as Arc<dyn ignis_store::ScheduleStore>,
        Arc::new(ignis_scheduler::SystemClock),
        &config.region,
        ignis_model::arn::ACCOUNT_ID,
    );
    let schedules_engine = schedules.spawn_engine(Arc::new(scheduler::ScheduleTargets {
        events: events.clone(),
        functions: functions.clone(),
        sqs: sqs.clone(),
        sns: topics.clone(),
    }));
    // The object store: files a crash left are removed, and its
    // notifications' dispatcher resumes what a previous process left.
    let objects = s3::start(
        store.clone(),
        data_dir,
        &config.region,
        s3::NodeDestinations {
            events: events.clone(),
            functions: functions.clone(),
            sqs: sqs.clone(),
            sns: topics.clone(),
            store: store.clone(),
            rules: rules.clone(),
        },
        stop.clone(),
    )
    .await?;
    let app = ignis_front::Front::new(ignis_front::FrontParts {
        api: ignis_api::app(AppState {
            functions: functions.clone(),
            events: events.clone(),
            sources: mappings,
        }),
        functions,
        sts: ignis_iam::Sts::new(iam.clone(), ids),
        auth: ignis_front::auth::Authenticator::new(root, master, iam.clone()),
        iam,
        mode,
        region: config.region.clone(),
        s3: objects,
        scheduler: schedules.clone(),
        sqs: sqs.clone(),
        sns: topics.clone(),
        events: rules.clone(),
    });

    tracing::info!(
        functions = loaded,
        unused_code_removed = removed,
        sandbox = router.sandbox_name(),
        memory_budget_mb = config.memory_budget_mb,
        data_dir = %data_dir.display(),
        "sandbox backend `{}`: {sandbox_why}",
        router.sandbox_name()
    );
    println!("sandbox: {} ({sandbox_why})", router.sandbox_name());
    tracing::info!("network `{}`: {}", chosen.network_mode, chosen.network_why);
    println!("network: {} ({})", chosen.network_mode, chosen.network_why);
    let key_path = ignis_front::root_key::RootKey::path(data_dir);
    let key_note = if made { "made now" } else { "kept" };
    tracing::info!("auth `{}`: {auth_why}", auth_name(mode));
    println!("auth: {} ({auth_why})", auth_name(mode));
    println!(
        "root access key: {} ({key_note}; `ignis credentials` writes an AWS CLI profile for it)",
        key_path.display()
    );
    for line in &runtimes_summary {
        tracing::info!("{line}");
        println!("{line}");
    }
    tracing::info!("{}", endpoint.describe());
    println!("{}", endpoint.describe());
    println!("Ignis listening on http://{addr}");
    tracing::info!("{url_note}");
    println!("{url_note}");
    let url_server = url_listener.map(|l| {
        let stop = stop.clone();
        tokio::spawn(
            axum::serve(
                l,
                axum::ServiceExt::into_make_service_with_connect_info::<SocketAddr>(
                    app.urls_only(),
                ),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .into_future(),
        )
    });
    // The same service for the environments, on the bridge's gateway.
    let functions_server = endpoint.listener.take().map(|l| {
        let stop = stop.clone();
        tokio::spawn(
            axum::serve(l, axum::ServiceExt::into_make_service(app.clone()))
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .into_future(),
        )
    });

    let reaper = {
        let router = router.clone();
        let stop = stop.clone();
        let every =
            (config.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
        tokio::spawn(async move { router.reap_idle(every, stop.cancelled_owned()).await })
    };
    // Environments started ahead of the invocations the keep-alive policy
    // expects (docs/keepalive.md, "Pre-warming").
    let warmer = tokio::spawn(router.clone().warm_ahead(stop.clone().cancelled_owned()));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server_stop = stop.clone();
    let mut server = tokio::spawn(
        axum::serve(
            listener,
            axum::ServiceExt::into_make_service_with_connect_info::<SocketAddr>(app),
        )
        .with_graceful_shutdown(async move { server_stop.cancelled().await })
        .into_future(),
    );
    tokio::select! {
        r = &mut server => {
            r.context("server task")?.context("serve")?;
        }
        _ = stop.cancelled() => {
            tracing::info!(grace = ?config.shutdown_grace, "stopping: no new connections; letting invocations finish");
            // Long polls of the logs answer now instead of holding the
            // shutdown for their wait.
            router.logs().close();
            // Synchronous invocations finish with their connections, the
            // running asynchronous ones in the queue; both within the grace.
            let finished = async {
                let (served, ()) = tokio::join!(&mut server, events.drain());
                served
            };
            if tokio::time::timeout(config.shutdown_grace, finished).await.is_err() {
                tracing::warn!("grace period over; ending running invocations");
                server.abort();
            }
        }
    }
    if let Some(p) = &prewarm {
        p.shutdown();
    }
    router.shutdown();
    reaper.abort();
    warmer.abort();
    schedules_engine.abort();
    rules_dispatcher.abort();
    topics_dispatcher.abort();
    sources_task.abort();
    if let Some(s) = functions_server {
        s.abort();
    }
    if let Some(s) = url_server {
        s.abort();
    }
    if let Some(cgroups) = cgroups {
        let _ = tokio::task::spawn_blocking(move || cgroups.shutdown()).await;
    }
    if let Some(disks) = disks {
        let _ = tokio::task::spawn_blocking(move || disks.shutdown()).await;
    }
    if let Some(network) = network {
        // Joins the namespace pool's threads and deletes the bridge.
        let _ = tokio::task::spawn_blocking(move || network.shutdown()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Where function URLs answer — the `--url-listen` listener, bound here,
/// else the main listener at `addr` — and the URLs loaded into the API's
/// table; with the start-up line that says so.
async fn function_urls(
    config: &ServerConfig,
    functions: &Functions,
    addr: SocketAddr,
) -> anyhow::Result<(Option<tokio::net::TcpListener>, String)> {
    let listener = match config.url_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("bind --url-listen {at}"))?,
        ),
        None => None,
    };
    let bound = match &listener {
        Some(l) => Some(l.local_addr().context("read the URL listener's address")?),
        None => None,
    };
    let port = bound.map_or(addr.port(), |b| b.port());
    functions.urls().set_base(&config.url_domain, port);
    let loaded = functions
        .load_urls()
        .await
        .map_err(|e| anyhow::anyhow!(e.0))
        .context("load function URLs")?;
    let base = format!(
        "http://<url-id>.lambda-url.{}.{}:{port}/",
        config.region, config.url_domain
    );
    let note = match bound {
        Some(b) => format!("function URLs: {base} ({loaded} configured; also on the function URL listener http://{b})"),
        None => format!("function URLs: {base} ({loaded} configured)"),
    };
    Ok((listener, note))
}

/// The URL of this node's endpoint that messages carry (SNS's
/// `SubscribeURL`, `UnsubscribeURL`, `SigningCertURL`): the bound address,
/// loopback when bound to every interface.
fn own_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    format!("http://{host}")
}

/// The async queue's settings: Lambda's retry delays, unless
/// `IGNIS_ASYNC_RETRY_DELAYS_MS` (hidden, for tests: `100,200`) says
/// otherwise.
fn async_config() -> anyhow::Result<AsyncConfig> {
    let mut config = AsyncConfig::default();
    if let Ok(list) = std::env::var("IGNIS_ASYNC_RETRY_DELAYS_MS") {
        config.retry_delays = list
            .split(',')
            .map(|ms| ms.trim().parse().map(Duration::from_millis))
            .collect::<Result<_, _>>()
            .with_context(|| {
                format!("IGNIS_ASYNC_RETRY_DELAYS_MS={list:?}: expected milliseconds like 100,200")
            })?;
    }
    Ok(config)
}

async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
