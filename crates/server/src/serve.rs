//! [`Server`]: check the settings and bind (refusing an open address without a key), then
//! load the model in the background while `/health` answers 503 ([`Server::run`]) — or,
//! with a pool of models, load each on its first request ([`Server::serve`]) — serve until
//! a shutdown signal, and give running requests a grace period before stopping.
//!
//! Connections are served with hyper directly (HTTP/1.1), so that slow clients cannot hold
//! them: headers must arrive within `header_timeout` (which also closes idle keep-alive
//! connections), at most `max_connections` are open at once (more get a 503 and are
//! closed), and the body reader in the router bounds the body's time and size.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use hearth_engine::Engine;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::state::unix_now;
use crate::{AppState, ServerConfig, ServerError, router};

/// What a model loader may fail with.
pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// A bound listener with its state; [`Server::run`] serves it.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Checks `config` ([`ServerConfig::validate`]), then resolves and binds
    /// `config.host:config.port`. A non-loopback address without an API key is refused
    /// unless `config.insecure`.
    pub async fn bind(mut config: ServerConfig) -> Result<Server, ServerError> {
        if config.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            config.api_key = None;
        }
        config.validate()?;
        let state = AppState::new(config);
        if let Some(pool) = state.pool() {
            crate::pool::check_files(pool.specs(), pool.budget())?;
        }
        let config = state.config();
        let host = config.host.clone();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), config.port))
            .await
            .map_err(|source| ServerError::Resolve { host: host.clone(), source })?
            .collect();
        let shown = |a: &SocketAddr| a.to_string();
        if config.api_key.is_none()
            && !config.insecure
            && let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(ServerError::Insecure { addr: shown(open) });
        }
        let mut last = None;
        for addr in &addrs {
            match TcpListener::bind(addr).await {
                Ok(listener) => return Ok(Server { listener, state }),
                Err(e) => last = Some((shown(addr), e)),
            }
        }
        let (addr, source) = last.unwrap_or_else(|| {
            (
                format!("{host}:{}", config.port),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            )
        });
        Err(ServerError::Bind { addr, source })
    }

    /// The address actually bound (the port, when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (the model is loading until `run`'s loader returns).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves the one model until `shutdown` completes: `load` runs on a blocking thread
    /// while requests get 503; once it returns the engine thread starts. A failed load stops
    /// the server with [`ServerError::Load`]. After `shutdown`, new connections are refused
    /// and running requests get `shutdown_grace` to finish. A server configured with a pool
    /// of models is started with [`Server::serve`] instead.
    pub async fn run<L, S>(self, load: L, shutdown: S) -> Result<(), ServerError>
    where
        L: FnOnce() -> Result<Engine, LoadError> + Send + 'static,
        S: Future<Output = ()> + Send + 'static,
    {
        if self.state.pool().is_some() {
            return Err(ServerError::Invalid(
                "this server has a pool of models (ServerConfig::models), loaded on first use: start it \
                 with Server::serve, not with a loader"
                    .into(),
            ));
        }
        let Server { listener, state } = self;
        let app = router(state.clone())?;

        let (failed_tx, failed_rx) = oneshot::channel::<String>();
        let loading = state.clone();
        tokio::spawn(async move {
            let msg = match tokio::task::spawn_blocking(load).await {
                Ok(Ok(engine)) => {
                    loading.set_engine(engine);
                    tracing::info!(model = loading.model_id(), "model loaded; serving");
                    return;
                }
                Ok(Err(e)) => crate::pool::error_chain(&*e),
                Err(e) => format!("the loader panicked: {e}"),
            };
            loading.set_failed(msg.clone());
            let _ = failed_tx.send(msg);
        });

        // Stop on the signal or on a failed load; either way, tell the grace timer.
        let stopping = Arc::new(Notify::new());
        let (failure_tx, failure_rx) = oneshot::channel::<String>();
        let notify = Arc::clone(&stopping);
        let signal = async move {
            tokio::select! {
                () = shutdown => tracing::info!("shutting down"),
                Ok(msg) = failed_rx => { let _ = failure_tx.send(msg); }
            }
            notify.notify_one();
        };
        serve_with_grace(listener, app, state.config(), signal, &stopping).await;

        // Stop the engine thread (it finishes the requests still running, which cancel as
        // their clients are gone) without blocking the async threads.
        if let Some(ready) = state.unload() {
            let _ = tokio::task::spawn_blocking(move || drop(ready)).await;
        }
        match failure_rx.await {
            Ok(msg) => Err(ServerError::Load(msg)),
            Err(_) => Ok(()),
        }
    }

    /// Serves the pool of models (`ServerConfig::models`) until `shutdown` completes; each
    /// model loads on its first request (or now, with `preload`). After `shutdown`, new connections are refused,
    /// running requests get `shutdown_grace` to finish, then every model is unloaded.
    pub async fn serve<S>(self, shutdown: S) -> Result<(), ServerError>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        let Server { listener, state } = self;
        let Some(pool) = state.pool().cloned() else {
            return Err(ServerError::Invalid(
                "no models configured (ServerConfig::models): start a single-model server with \
                 Server::run and its loader"
                    .into(),
            ));
        };
        let app = router(state.clone())?;
        crate::route::monitor::spawn(&state);
        for (index, spec) in pool.specs().iter().enumerate().filter(|(_, s)| s.preload) {
            let (pool, name) = (pool.clone(), spec.name.clone());
            tokio::spawn(async move {
                match pool.acquire_index(index).await {
                    Ok(_) => tracing::info!(model = %name, "preloaded"),
                    Err(e) => tracing::error!(model = %name, error = %e, "preloading failed"),
                }
            });
        }
        let stopping = Arc::new(Notify::new());
        let notify = Arc::clone(&stopping);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down");
            notify.notify_one();
        };
        serve_with_grace(listener, app, state.config(), signal, &stopping).await;
        pool.unload_all().await;
        Ok(())
    }
}

/// [`serve_connections`] until `signal`; once `stopping` is notified, running requests get
/// `shutdown_grace` to finish before they are dropped.
async fn serve_with_grace(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    signal: impl Future<Output = ()>,
    stopping: &Notify,
) {
    let serve = serve_connections(listener, app, config, signal);
    let grace = config.shutdown_grace;
    let timer = async move {
        stopping.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = serve => {}
        () = timer => tracing::warn!(?grace, "running requests did not finish in time; dropping them"),
    }
}

/// Accepts connections until `signal`, serving each on its own task; then stops accepting
/// and waits until the open connections have finished their requests.
async fn serve_connections(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    signal: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).keep_alive(true);
    let open = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let last_warned = AtomicU64::new(0);
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    if !is_connection_error(&e) {
                        tracing::error!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            let now = unix_now();
            if last_warned.swap(now, Ordering::Relaxed) != now {
                let max = config.max_connections;
                tracing::warn!(max, %peer, "connection limit reached; refusing connections (--max-connections)");
            }
            refuse(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers a connection over the limit with a 503 if its socket takes it at once, and
/// closes it.
fn refuse(stream: TcpStream) {
    const BODY: &str = concat!(
        r#"{"error":{"message":"too many connections; retry shortly","type":"server_error","#,
        r#""param":null,"code":"too_many_connections"}}"#
    );
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(reply.as_bytes());
}

/// Errors of one connection (the peer reset it before it was accepted), not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Ctrl-C, or SIGTERM on Unix (what systemd sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
