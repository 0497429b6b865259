//! The service's routes, one module per resource, each with its router.
//!
//! | face | auth | paths |
//! |---|---|---|
//! | server API (the host's backend) | API key | `/api/v1/users…`, `/api/v1/signups` |
//! | browser API (the widget) | user token | `/api/v1/me/…` |
//! | public | none, rate limited | `/r/{code}`, `/api/v1/referrer`, `/api/v1/nudge-config`, `/pkg/…` |
//! | billing | webhook signature | `/api/v1/webhooks/billing` |
//! | admin | admin session + CSRF | `/admin`, `/api/admin/…` (outbound webhooks: `/api/admin/webhooks…`, `/api/admin/webhook-deliveries…`) |

pub mod admin;
pub mod assets;
pub mod events;
pub mod nudge_state;
pub mod outbound;
pub mod privacy;
pub mod referrer;
pub mod review;
pub mod signups;
pub mod users;
pub mod webhooks;

use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(users::router(state.clone()))
        .merge(privacy::router())
        .merge(signups::router())
        .merge(events::router(state.clone()))
        .merge(nudge_state::router(state.clone()))
        .merge(referrer::router(state.clone()))
        .merge(webhooks::router())
        .merge(admin::router(state.clone()))
        .merge(review::router())
        .merge(outbound::router())
        .merge(assets::router())
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed here",
    )
}

/// CORS for the browser API: the allowed origins (the public one and
/// `ALLOWED_ORIGINS`) may call it from their pages with a user token in
/// `Authorization`. No cookies cross origins.
pub fn cors(state: &AppState) -> tower_http::cors::CorsLayer {
    use axum::http::HeaderValue;
    let origins: Vec<HeaderValue> = state
        .settings
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([header::ETAG])
        .max_age(std::time::Duration::from_secs(600))
}

/// OPTIONS on a browser API route: the CORS layer answers preflights
/// before this runs; a bare OPTIONS gets an empty 204.
pub async fn preflight() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// Browser endpoints that change state: JSON bodies only and an allowed
/// `Origin`, so a plain HTML form or a foreign page cannot post to them.
pub async fn browser_write(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Err(e) = crate::auth::check_origin(&state, req.headers()) {
            return e.into_response();
        }
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected Content-Type: application/json",
            )
            .into_response();
        }
    }
    next.run(req).await
}
