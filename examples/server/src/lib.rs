//! The reference referral service. Every decision is core's: the service
//! stores what core decided (with its reasons) and never re-implements a
//! rule. See README.md for the three APIs and ARCHITECTURE.md for the map.
//!
//! - `config`: flags and environment; `settings` here: what they become.
//! - `error`: JSON errors; `auth`: admin sessions, API keys, user tokens;
//!   `rate_limit`: per-client limits.
//! - `routes`: one module per resource, each with its own router.
//! - `store`: the database functions; `demo`: the demo SaaS host (only
//!   with `--demo`).

pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod outbound;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod settings;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};

pub use settings::{demo_program, Secrets, Settings};
pub use store::Db;

/// Seconds since the epoch. Only the demo host can move it forward (its
/// "advance time" button); outside demo mode it is the system clock.
#[derive(Clone, Default)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    /// Program time: what the ledger, attribution and codes see.
    pub fn now(&self) -> u64 {
        Clock::real_now() + self.0.load(Ordering::Relaxed)
    }
    /// Wall-clock time, for what security depends on (sessions, user
    /// tokens, webhook freshness): the demo clock never moves it.
    pub fn real_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub limits: Arc<rate_limit::Limits>,
    /// Widget events, group-committed (`store::ingest`).
    pub ingest: store::ingest::Ingest,
}

impl AppState {
    pub fn new(db: Db, settings: Settings, clock: Clock) -> AppState {
        let limits = rate_limit::limits(&settings);
        AppState {
            ingest: store::ingest::Ingest::start(db.clone(), settings.nudge.clone()),
            db,
            settings: Arc::new(settings),
            clock,
            limits,
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service's router (and the demo host's, in demo mode), with JSON
/// errors, body limits, timeouts, request ids and tracing.
pub fn app(state: AppState) -> Router {
    let mut router = routes::router(state.clone());
    if let (true, Some(key)) = (state.settings.demo, &state.settings.demo_api_key) {
        router = router.merge(demo::router(
            state.clone(),
            routes::router(state.clone()),
            key.clone(),
        ));
    }
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    router
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(routes::assets::not_modified))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(RequestBodyTimeoutLayer::new(timeout))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the timeouts, so their bare 408s become JSON too.
        .layer(axum::middleware::from_fn(error::json_errors))
        // gzip or brotli, as the browser accepts (the widget's files
        // shrink to about a third).
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
            .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
