//! plexid's HTTP server: the service layer every front end calls ([`service`]), the front ends
//! (the authentik-compatible [`api`], the HTML [`pages`]), background [`jobs`], start-up and
//! shutdown. The `plexid` binary (`main.rs`) is a thin command-line front to this.

pub mod api;
pub mod check;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod import;
pub mod jobs;
pub mod memory;
pub mod metrics;
pub mod pages;
pub mod router;
pub mod serve;
pub mod service;
pub mod startup;
pub mod state;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Settings;
use crate::state::AppState;

/// The hidden `plexid` subcommand that runs a mapping worker (see `plexid_mapping::worker`).
pub const MAPPING_WORKER_COMMAND: &str = "mapping-worker";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] plexid_store::StoreError),
    #[error("{0}")]
    Service(#[from] service::ServiceError),
    #[error("plex.tv client: {0}")]
    Plex(String),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("{0}")]
    Setting(String),
}

/// A server bound to its address, ready to run.
pub struct Server {
    pub state: AppState,
    pub listener: TcpListener,
    pub address: SocketAddr,
}

impl Server {
    /// Prepares the database and binds the listener, reading time from the system clock.
    pub async fn bind(settings: Settings) -> Result<Server, StartError> {
        Self::bind_with_clock(settings, Clock::system()).await
    }

    /// As [`Server::bind`], with the given clock (tests use a manual one).
    pub async fn bind_with_clock(settings: Settings, clock: Clock) -> Result<Server, StartError> {
        Self::bind_to(None, settings, clock).await
    }

    /// As [`Server::bind_with_clock`], on `listener` when given (tests bind first, to know
    /// their public address before the server starts) instead of `settings.listen`.
    pub async fn bind_to(
        listener: Option<TcpListener>,
        settings: Settings,
        clock: Clock,
    ) -> Result<Server, StartError> {
        settings.check().map_err(StartError::Setting)?;
        let (store, secrets) = startup::prepare(&settings, &clock).await?;
        let listen_error = |source| StartError::Listen { address: settings.listen.clone(), source };
        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(&settings.listen).await.map_err(listen_error)?,
        };
        let address = listener.local_addr().map_err(listen_error)?;
        let metrics = Arc::new(metrics::Metrics::new());
        let plex = plexid_plex::PlexClient::new(plex_config(&settings, &metrics))
            .map_err(|e| StartError::Plex(e.to_string()))?;
        let worker = plexid_mapping::worker::WorkerCommand {
            program: match &settings.mapping_worker {
                Some(path) => path.clone(),
                None => std::env::current_exe()
                    .map_err(|e| StartError::Plex(format!("cannot find the plexid binary: {e}")))?,
            },
            args: vec![MAPPING_WORKER_COMMAND.to_owned()],
        };
        let mappings = Arc::new(plexid_mapping::worker::Pool::new(
            worker,
            plexid_mapping::Limits::default(),
            settings.mapping_workers,
        ));
        let login_limits =
            Arc::new(service::limits::LoginLimits::new(settings.login_rate_limit, settings.login_source_rate_limit));
        let state = AppState {
            store,
            secrets,
            settings: Arc::new(settings),
            mappings,
            clock,
            plex,
            plex_seen: Default::default(),
            login_limits,
            auth_cache: Default::default(),
            metrics,
        };
        Ok(Server { state, listener, address })
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and closes the database.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let jobs = self.state.settings.jobs.then(|| jobs::spawn(self.state.clone()));
        let releasing = memory::spawn();
        let limits = serve::Limits {
            header_timeout: self.state.settings.header_timeout.std(),
            max_connections: self.state.settings.max_connections,
        };
        let app = router::router(self.state);
        let result = serve::serve(self.listener, app, limits, shutdown).await;
        if let Some(jobs) = jobs {
            jobs.abort();
        }
        releasing.abort();
        store.close().await;
        result
    }
}

fn plex_config(settings: &Settings, metrics: &Arc<metrics::Metrics>) -> plexid_plex::PlexConfig {
    let metrics = metrics.clone();
    plexid_plex::PlexConfig {
        observer: plexid_plex::Observer::new(move |call| metrics.plex_call(call)),
        api_url: settings.plex_api_url.clone(),
        clients_url: settings.plex_clients(),
        community_url: settings.plex_community(),
        product: "plexid".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        request_timeout: settings.plex_timeout.std(),
        owner_cache_ttl: settings.plex_cache_ttl.std(),
        ..Default::default()
    }
}

/// Prints a line of the server's start-up message. A closed standard output (the terminal or
/// pipe went away) must not stop a running server, so write errors are ignored.
pub fn announce(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
