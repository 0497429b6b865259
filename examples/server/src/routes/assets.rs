//! Files: the widget package (`/pkg/…`), the pages' scripts and styles
//! (`/static/…`), and the nudge configuration the widget loads.

use std::path::Path as FsPath;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/{file}", get(static_file))
        .route("/pkg/{file}", get(package_file))
        .route("/api/v1/nudge-config", get(nudge_config))
}

/// Strict CSP on every page: no inline script or style anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("ts") => "text/plain",
        _ => "application/octet-stream",
    }
}

pub async fn serve_from(dir: &FsPath, name: &str) -> Response {
    // One path segment of safe characters: nothing outside `dir`.
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        || name.starts_with('.')
    {
        return ApiError::not_found("no such file").into_response();
    }
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(name)),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => ApiError::not_found("no such file").into_response(),
    }
}

async fn static_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve_from(&state.settings.web_dir, &file).await
}

async fn package_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve_from(&state.settings.pkg_dir, &file).await
}

async fn nudge_config(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.settings.nudge_config_json.clone(),
    )
        .into_response()
}
