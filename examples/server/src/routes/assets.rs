//! Files: the widget package (`/pkg/…`), the pages' scripts and styles
//! (`/static/…`), the nudge configuration the widget loads, and the API's
//! contract (`/api/openapi.json`, the file `tests/openapi.rs` checks).

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
        .route("/pkg/v/{version}/{file}", get(versioned_package_file))
        .route("/api/v1/nudge-config", get(nudge_config))
        .route("/api/openapi.json", get(openapi))
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

fn safe_name(name: &str) -> bool {
    // One path segment of safe characters: nothing outside the directory.
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !name.starts_with('.')
}

/// How long a browser may keep a file without asking again.
#[derive(Clone, Copy)]
pub enum Caching {
    /// Revalidated on every use (answered with 304 when unchanged): a new
    /// build is seen at once and an unchanged file costs no bytes.
    Revalidate,
    /// A year, never revalidated: only for URLs that name the content.
    Immutable,
}

fn file_response(name: &str, bytes: Vec<u8>, caching: Caching) -> Response {
    // Weak: the same file is sent gzip, brotli or plain.
    let etag = format!("W/\"{}\"", &crate::store::sha256_hex(&bytes)[..32]);
    let cache = match caching {
        Caching::Revalidate => "no-cache",
        Caching::Immutable => "public, max-age=31536000, immutable",
    };
    (
        [
            (header::CONTENT_TYPE, content_type(name).to_owned()),
            (header::CONTENT_SECURITY_POLICY, CSP.to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, cache.to_owned()),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}

pub async fn serve_from(dir: &FsPath, name: &str) -> Response {
    serve_cached(dir, name, Caching::Revalidate).await
}

async fn serve_cached(dir: &FsPath, name: &str, caching: Caching) -> Response {
    if !safe_name(name) {
        return ApiError::not_found("no such file").into_response();
    }
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => file_response(name, bytes, caching),
        Err(_) => ApiError::not_found("no such file").into_response(),
    }
}

/// A name for the package's current content: the first 16 hex digits of
/// SHA-256 over its files' names and bytes. Read each time it is needed,
/// so a rebuilt package gets a new name at once.
pub async fn package_version(dir: &FsPath) -> Option<String> {
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    let mut names = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(name) = entry.file_name().to_str().filter(|n| safe_name(n)) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut all = Vec::new();
    for name in names {
        if let Ok(bytes) = tokio::fs::read(dir.join(&name)).await {
            all.extend_from_slice(name.as_bytes());
            all.push(0);
            all.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            all.extend_from_slice(&bytes);
        }
    }
    Some(crate::store::sha256_hex(&all)[..16].to_owned())
}

/// An HTML page, revalidated on every use, whose references to the widget
/// package (`/pkg/…`) point at the package's content-named URL
/// (`/pkg/v/<version>/…`), which browsers keep for a year.
pub async fn serve_page(dir: &FsPath, name: &str, pkg_dir: &FsPath) -> Response {
    if !safe_name(name) {
        return ApiError::not_found("no such file").into_response();
    }
    let Ok(text) = tokio::fs::read_to_string(dir.join(name)).await else {
        return ApiError::not_found("no such file").into_response();
    };
    let text = match package_version(pkg_dir).await {
        Some(version) => text.replace("\"/pkg/", &format!("\"/pkg/v/{version}/")),
        None => text,
    };
    file_response(name, text.into_bytes(), Caching::Revalidate)
}

/// `/pkg/v/<version>/<file>`: immutable while `version` is the package's
/// current content; any other version is gone (404).
async fn versioned_package_file(
    State(state): State<AppState>,
    Path((version, file)): Path<(String, String)>,
) -> Response {
    if package_version(&state.settings.pkg_dir).await.as_deref() != Some(version.as_str()) {
        return ApiError::not_found("no such version of the package").into_response();
    }
    serve_cached(&state.settings.pkg_dir, &file, Caching::Immutable).await
}

async fn static_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve_from(&state.settings.web_dir, &file).await
}

async fn package_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve_from(&state.settings.pkg_dir, &file).await
}

/// The OpenAPI 3.1 document, built into the binary.
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../openapi.json"),
    )
        .into_response()
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
