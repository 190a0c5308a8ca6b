//! [`Server`]: bind first (refusing an open address without a key), then load the model in
//! the background while `/health` answers 503, serve until a shutdown signal, and give
//! running requests a grace period before stopping.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hearth_engine::Engine;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

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
    /// Resolves and binds `config.host:config.port`. A non-loopback address without an API
    /// key is refused unless `config.insecure`.
    pub async fn bind(mut config: ServerConfig) -> Result<Server, ServerError> {
        if config.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            config.api_key = None;
        }
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
                Ok(listener) => return Ok(Server { listener, state: AppState::new(config) }),
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

    /// Serves until `shutdown` completes: `load` runs on a blocking thread while requests
    /// get 503; once it returns the engine thread starts. A failed load stops the server
    /// with [`ServerError::Load`]. After `shutdown`, new connections are refused and running
    /// requests get `shutdown_grace` to finish.
    pub async fn run<L, S>(self, load: L, shutdown: S) -> Result<(), ServerError>
    where
        L: FnOnce() -> Result<Engine, LoadError> + Send + 'static,
        S: Future<Output = ()> + Send + 'static,
    {
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
                Ok(Err(e)) => error_chain(&*e),
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
        let serve = axum::serve(listener, app).with_graceful_shutdown(signal);
        let grace = state.config().shutdown_grace;
        let timer = async move {
            stopping.notified().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = serve.into_future() => r?,
            () = timer => tracing::warn!(?grace, "running requests did not finish in time; dropping them"),
        }

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

/// `e: cause: cause`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
