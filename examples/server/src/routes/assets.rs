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
        Ok(bytes) => {
            // Revalidated on every use (the names are not content-hashed),
            // answered with 304 when unchanged: a new build is seen at once
            // and an unchanged file costs no bytes.
            // Weak: the same file is sent gzip, brotli or plain.
            let etag = format!("W/\"{}\"", &crate::store::sha256_hex(&bytes)[..32]);
            (
                [
                    (header::CONTENT_TYPE, content_type(name).to_owned()),
                    (header::CONTENT_SECURITY_POLICY, CSP.to_owned()),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                    (header::CACHE_CONTROL, "no-cache".to_owned()),
                    (header::ETAG, etag),
                ],
                bytes,
            )
                .into_response()
        }
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

/// Conditional GET: a response whose `ETag` matches the request's
/// `If-None-Match` becomes an empty `304 Not Modified`.
pub async fn not_modified(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wanted = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(req).await;
    let (Some(wanted), Some(etag)) = (wanted, response.headers().get(header::ETAG)) else {
        return response;
    };
    let matches = etag.to_str().is_ok_and(|etag| {
        wanted
            .split(',')
            .any(|w| w.trim() == etag || w.trim() == "*")
    });
    if !matches || !response.status().is_success() {
        return response;
    }
    let mut not_modified = axum::http::StatusCode::NOT_MODIFIED.into_response();
    for name in [header::ETAG, header::CACHE_CONTROL] {
        if let Some(value) = response.headers().get(&name) {
            not_modified.headers_mut().insert(name, value.clone());
        }
    }
    not_modified
}
