//! The demo SaaS host ("Acme Analytics"), mounted only with `--demo`. It
//! is a host like any other: its own accounts and sign-in (Argon2id
//! passwords, server-side sessions), and it uses the referral service
//! exactly as the README tells a customer: the server API with an API key
//! (here called in-process through the same router, so every check is the
//! same), user tokens minted with core for its signed-in users, and the
//! widget in its pages. Its clock button exists only here.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use referral_core::UserTokenRequest;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::auth::{self, cookie};
use crate::error::{unique_violation, ApiError, ApiResult, Json};
use crate::rate_limit::Group;
use crate::routes::assets::serve_from;
use crate::routes::referrer::REF_COOKIE;
use crate::routes::signups::SignupRequest;
use crate::store::{access, random_id, Db};
use crate::{AppState, Clock};

pub const DEMO_COOKIE: &str = "demo_session";
const DEMO_SESSION: &str = "demo";
const DEMO_KEY_NAME: &str = "demo host";

#[derive(Clone)]
pub struct Demo {
    app: AppState,
    /// The service, called in-process with the demo host's API key.
    service: Router,
    api_key: String,
    /// "Your friend Bo joined — thank you!" per referrer, from the
    /// service's `referral.attributed` webhooks (in memory: a demo).
    thanks: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>>,
}

/// The demo host's subscription to its own service's outbound webhooks.
pub const DEMO_ENDPOINT_ID: &str = "we_demo_host";

/// Subscribes the demo host's receiver (`/demo/hooks/referral` at `base`,
/// a loopback URL: demo mode allows private webhook URLs) to
/// `referral.attributed`, keeping its secret across restarts.
pub async fn subscribe_outbound(db: &Db, base: &str, now: u64) -> Result<(), sqlx::Error> {
    let url = format!("{}/demo/hooks/referral", base.trim_end_matches('/'));
    let secrets = serde_json::json!([{ "secret": crate::outbound::new_secret() }]).to_string();
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO webhook_endpoints (id, url, event_types, secrets, created_at) VALUES ($1, $2, '[\"referral.attributed\"]', $3, $4) ON CONFLICT (id) DO UPDATE SET url = excluded.url")
        .bind(DEMO_ENDPOINT_ID)
        .bind(url)
        .bind(secrets)
        .bind(now as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A fresh API key for the demo host (earlier ones are revoked).
pub async fn provision_api_key(db: &Db, now: u64) -> Result<String, sqlx::Error> {
    let (key, id, hash) = auth::new_api_key();
    let mut tx = db.begin().await?;
    access::revoke_api_keys_named(&mut tx, DEMO_KEY_NAME, now).await?;
    access::insert_api_key(&mut tx, &id, DEMO_KEY_NAME, &hash, now).await?;
    tx.commit().await?;
    Ok(key)
}

pub fn router(app: AppState, service: Router, api_key: String) -> Router {
    let demo = Demo {
        app: app.clone(),
        service,
        api_key,
        thanks: Default::default(),
    };
    let limited_auth = Router::new()
        .route("/demo/api/accounts", post(create_account))
        .route("/demo/api/session", post(sign_in))
        .route_layer(axum::middleware::from_fn_with_state(
            (app.clone(), Group::Auth),
            crate::rate_limit::limit,
        ));
    let limited_tokens = Router::new().route("/demo/api/me", get(me)).route_layer(
        axum::middleware::from_fn_with_state((app, Group::Lookups), crate::rate_limit::limit),
    );
    Router::new()
        .route("/", get(|d: State<Demo>| html(d, "index.html")))
        .route("/signup", get(|d: State<Demo>| html(d, "signup.html")))
        .route(
            "/demo/static/{file}",
            get(|d: State<Demo>, Path(file): Path<String>| page(d, file)),
        )
        .route("/demo/api/session", axum::routing::delete(sign_out))
        .route("/demo/api/advance-time", post(advance_time))
        .route("/demo/api/simulate", post(simulate))
        .route("/demo/hooks/referral", post(referral_hook))
        .route("/demo/api/thanks", get(thanks))
        .merge(limited_auth)
        .merge(limited_tokens)
        .with_state(demo)
}

/// A demo page, its widget references pointing at the package's
/// content-named (long-cached) URLs.
async fn html(State(demo): State<Demo>, name: &str) -> Response {
    let settings = &demo.app.settings;
    crate::routes::assets::serve_page(&settings.web_dir.join("demo"), name, &settings.pkg_dir).await
}

/// The demo host's own pages and scripts (`web/demo/`), never served
/// without demo mode.
async fn page(State(demo): State<Demo>, name: String) -> Response {
    let settings = &demo.app.settings;
    let dir = settings.web_dir.join("demo");
    // Scripts import the package too: the same content-named URLs as the
    // page's, so each module loads once.
    if name.ends_with(".js") {
        return crate::routes::assets::serve_page(&dir, &name, &settings.pkg_dir).await;
    }
    serve_from(&dir, &name).await
}

impl Demo {
    /// One server API call, as a host's backend makes it.
    async fn call<T: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &T,
        idempotency_key: Option<&str>,
    ) -> ApiResult<(StatusCode, serde_json::Value)> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.api_key))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        self.send(request, body).await
    }

    /// Sends a request with `body` as JSON to the service, in process; its
    /// status and JSON answer (null when it has none).
    async fn send<T: Serialize>(
        &self,
        request: axum::http::request::Builder,
        body: &T,
    ) -> ApiResult<(StatusCode, serde_json::Value)> {
        let request = request
            .body(Body::from(
                serde_json::to_vec(body).map_err(ApiError::internal)?,
            ))
            .map_err(ApiError::internal)?;
        let response = self
            .service
            .clone()
            .oneshot(request)
            .await
            .map_err(ApiError::internal)?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .map_err(ApiError::internal)?;
        let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, value))
    }

    /// A user token for `subject`, as the host's backend mints one with
    /// the SDK.
    fn user_token(&self, subject: &str, ttl_secs: u64, now: u64) -> ApiResult<String> {
        let settings = &self.app.settings;
        settings
            .user_tokens
            .mint_user_token(
                &UserTokenRequest {
                    subject: subject.to_owned(),
                    audience: settings.public_url.clone(),
                    ttl_secs,
                },
                now,
            )
            .map_err(ApiError::internal)
    }
}

/// `anna.lind@…` → `Anna Lind`: the demo has no profile names.
pub fn display_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    local
        .split(['.', '_', '-', '+'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    email: String,
    password: String,
    #[serde(default)]
    company_domain: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    captured_at: Option<u64>,
    #[serde(default)]
    typed_code: Option<String>,
    #[serde(default = "yes")]
    share_name: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize)]
struct AccountCreated {
    user_id: String,
    /// The service's attribution reason.
    reason: String,
}

/// Sign-up on the demo host: its own account, then the service's signup.
async fn create_account(
    State(demo): State<Demo>,
    headers: HeaderMap,
    Json(body): Json<NewAccount>,
) -> ApiResult<Response> {
    auth::check_origin(&demo.app, &headers)?;
    auth::check_new_password(&body.password)?;
    let (email, _, _) = crate::routes::users::email_facts(&body.email)?;
    let password = body.password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)??;
    let user_id = random_id("demo");
    let mut conn = demo.app.db.pool.acquire().await?;
    if access::demo_user_by_email(&mut conn, &email)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "email_taken",
            "an account with this email exists; sign in",
        ));
    }
    drop(conn);
    // The service first: if it refuses, no half-made account is left
    // behind (a host must not create its account without the signup's
    // fate known, or retry with the same idempotency key until it is).
    let signup = SignupRequest {
        user_id: user_id.clone(),
        display_name: Some(display_name(&email)),
        email: email.clone(),
        share_name: body.share_name,
        company_domain: body.company_domain.filter(|d| !d.trim().is_empty()),
        ref_cookie: cookie(&headers, REF_COOKIE),
        code: body.code,
        captured_at: body.captured_at,
        typed_code: body.typed_code.filter(|c| !c.trim().is_empty()),
    };
    let (status, answer) = demo
        .call(
            Method::POST,
            "/api/v1/signups",
            &signup,
            Some(&format!("signup-{user_id}")),
        )
        .await?;
    if !status.is_success() {
        tracing::warn!(%status, "service signup refused");
        let code = answer["error"].as_str().unwrap_or("referral_service");
        return Err(ApiError::new(
            if status.is_client_error() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::BAD_GATEWAY
            },
            if code == "invalid_company_domain" {
                "invalid_company_domain"
            } else {
                "signup_refused"
            },
            "the referral service refused the signup",
        ));
    }
    let mut conn = demo.app.db.pool.acquire().await?;
    access::insert_demo_user(&mut conn, &user_id, &email, &hash, Clock::real_now())
        .await
        .map_err(|e| match unique_violation(&e).as_deref() {
            // The same email at the same moment: the other request won.
            Some("demo_users_email_key") => {
                ApiError::conflict("email_taken", "an account with this email exists; sign in")
            }
            _ => e.into(),
        })?;
    drop(conn);
    let session = auth::create_session(&demo.app, DEMO_COOKIE, DEMO_SESSION, &user_id).await?;
    let reason = answer["reason"].as_str().unwrap_or_default().to_owned();
    Ok((
        [(header::SET_COOKIE, session.set_cookie)],
        Json(AccountCreated { user_id, reason }),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

async fn sign_in(
    State(demo): State<Demo>,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    auth::check_origin(&demo.app, &headers)?;
    let email = body.email.trim().to_ascii_lowercase();
    if email.len() > 254 || email.chars().any(char::is_control) || body.password.len() > 1024 {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong email or password",
        ));
    }
    let mut conn = demo.app.db.pool.acquire().await?;
    let found = access::demo_user_by_email(&mut conn, &email).await?;
    drop(conn);
    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    let password = body.password;
    let ok =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, stored.as_deref()))
            .await
            .map_err(ApiError::internal)?;
    let (true, Some((user_id, _))) = (ok, found) else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong email or password",
        ));
    };
    let session = auth::create_session(&demo.app, DEMO_COOKIE, DEMO_SESSION, &user_id).await?;
    Ok((
        [(header::SET_COOKIE, session.set_cookie)],
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

async fn sign_out(State(demo): State<Demo>, headers: HeaderMap) -> ApiResult<Response> {
    auth::check_origin(&demo.app, &headers)?;
    let clear = auth::end_session(&demo.app, &headers, DEMO_COOKIE).await?;
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

#[derive(Serialize)]
struct Me {
    user_id: String,
    name: String,
    /// In the experiment's holdout: the widget never asks this person
    /// (core's `in_holdout`), so the lift of asking can be measured.
    in_holdout: bool,
    /// For the widget: `Authorization: Bearer <user_token>` on the
    /// service's browser API.
    user_token: String,
    expires_at: u64,
    /// Thanks for friends who joined (the loop closed by the service's
    /// `referral.attributed` webhook).
    thanks: Vec<String>,
}

/// The signed-in demo user, with a fresh user token minted by core.
async fn me(State(demo): State<Demo>, parts: Parts) -> ApiResult<Json<Me>> {
    let session = auth::session_from(&demo.app, &parts, DEMO_COOKIE, DEMO_SESSION).await?;
    let mut conn = demo.app.db.pool.acquire().await?;
    let email = access::demo_user_email(&mut conn, &session.subject)
        .await?
        .ok_or_else(|| ApiError::unauthorized("not_signed_in", "sign in first"))?;
    let settings = &demo.app.settings;
    let now = crate::Clock::real_now();
    let ttl = settings.user_token_ttl_secs;
    let user_token = demo.user_token(&session.subject, ttl, now)?;
    let thanks = demo
        .thanks
        .lock()
        .map(|t| t.get(&session.subject).cloned().unwrap_or_default())
        .unwrap_or_default();
    Ok(Json(Me {
        thanks,
        in_holdout: referral_core::nudge::in_holdout(&settings.nudge, &session.subject),
        user_id: session.subject,
        name: display_name(&email),
        user_token,
        expires_at: now + ttl,
    }))
}

#[derive(Serialize)]
struct Thanks {
    thanks: Vec<String>,
}

/// The signed-in user's thanks (polled by the demo app; no token minted,
/// so not rate limited like `/demo/api/me`).
async fn thanks(State(demo): State<Demo>, parts: Parts) -> ApiResult<Json<Thanks>> {
    let session = auth::session_from(&demo.app, &parts, DEMO_COOKIE, DEMO_SESSION).await?;
    let thanks = demo
        .thanks
        .lock()
        .map(|t| t.get(&session.subject).cloned().unwrap_or_default())
        .unwrap_or_default();
    Ok(Json(Thanks { thanks }))
}

/// The demo host's webhook receiver: checks the Standard Webhooks
/// signature with its endpoint's secrets and a 5-minute timestamp
/// tolerance, then thanks the referrer of each `referral.attributed`.
async fn referral_hook(
    State(demo): State<Demo>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<StatusCode> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, ts, signatures) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let refused = || ApiError::unauthorized("bad_signature", "webhook signature not valid");
    let ts: u64 = ts.parse().map_err(|_| refused())?;
    if ts.abs_diff(Clock::real_now()) > 300 {
        return Err(refused());
    }
    let mut conn = demo.app.db.read.acquire().await?;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT secrets FROM webhook_endpoints WHERE id = $1")
            .bind(DEMO_ENDPOINT_ID)
            .fetch_optional(&mut *conn)
            .await?;
    let secrets: Vec<crate::outbound::StoredSecret> = stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let valid = secrets.iter().any(|s| {
        crate::outbound::sign(&s.secret, &id, ts, &body).is_some_and(|expected| {
            signatures.split(' ').any(|sig| {
                use subtle::ConstantTimeEq;
                bool::from(sig.as_bytes().ct_eq(expected.as_bytes()))
            })
        })
    });
    if !valid {
        return Err(refused());
    }
    let event: serde_json::Value =
        serde_json::from_str(&body).map_err(|_| ApiError::bad("invalid_json", "not JSON"))?;
    if event["type"] == "referral.attributed" {
        let referrer = event["data"]["referrer_id"].as_str().unwrap_or_default();
        let friend = event["data"]["friend_id"].as_str().unwrap_or_default();
        let name = access::demo_user_email(&mut conn, friend)
            .await?
            .map(|email| display_name(&email))
            .and_then(|n| n.split(' ').next().map(str::to_owned))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "someone".to_owned());
        if let Ok(mut thanks) = demo.thanks.lock() {
            let list = thanks.entry(referrer.to_owned()).or_default();
            list.push(format!("Your friend {name} joined — thank you!"));
            let excess = list.len().saturating_sub(5);
            list.drain(..excess);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    days: u64,
}

#[derive(Serialize)]
struct ClockNow {
    now: u64,
}

/// Moves the demo's clock (admins only, demo mode only): held rewards
/// become payable without waiting 30 days.
async fn advance_time(
    State(demo): State<Demo>,
    parts: Parts,
    body: axum::body::Bytes,
) -> ApiResult<Json<ClockNow>> {
    auth::session_from(&demo.app, &parts, auth::ADMIN_COOKIE, auth::ADMIN_SESSION).await?;
    let body: Advance =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad("invalid_body", e.to_string()))?;
    if body.days > 3650 {
        return Err(ApiError::bad("invalid_days", "at most 3650 days"));
    }
    demo.app.clock.advance(body.days * 86_400);
    Ok(Json(ClockNow {
        now: demo.app.clock.now(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Simulate {
    customers: u32,
}

#[derive(Serialize, Default)]
struct Simulated {
    customers: u32,
    asked: u32,
    shared: u32,
    referred_signups: u32,
}

/// Most customers one simulation adds.
/// (Sequential in-process calls: well inside the request timeout.)
const MAX_SIMULATED: u32 = 500;

/// Adds simulated customers through the same calls a host and its
/// browsers make (admins only, demo mode only), so the admin's funnel and
/// lift have a program to show. Each customer signs up, finishes
/// onboarding and makes a report; the nudge engine decides whether to
/// ask (never in the holdout). Asked customers share their link with
/// probability 0.22, others with 0.08 (word of mouth); a share brings a
/// friend's signup with probability 0.7, and a second with 0.25. The
/// draws are deterministic per customer id.
async fn simulate(
    State(demo): State<Demo>,
    parts: Parts,
    body: axum::body::Bytes,
) -> ApiResult<Json<Simulated>> {
    use referral_core::nudge::{evaluate, fnv1a64, Decision, Event, NudgeState};
    auth::session_from(&demo.app, &parts, auth::ADMIN_COOKIE, auth::ADMIN_SESSION).await?;
    let body: Simulate =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad("invalid_body", e.to_string()))?;
    if body.customers == 0 || body.customers > MAX_SIMULATED {
        return Err(ApiError::bad(
            "invalid_customers",
            format!("1 to {MAX_SIMULATED} customers"),
        ));
    }
    let nudge = demo.app.settings.nudge.clone();
    let batch = hex::encode(crate::store::random_bytes::<4>());
    let now = demo.app.clock.now();
    let mut out = Simulated {
        customers: body.customers,
        ..Simulated::default()
    };
    let ok = |(status, answer): (StatusCode, serde_json::Value)| {
        if status.is_success() {
            Ok(answer)
        } else {
            tracing::warn!(%status, %answer, "simulation call refused");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "simulation_refused",
                "the referral service refused a simulated call",
            ))
        }
    };
    for k in 0..body.customers {
        let id = format!("sim{batch}-{k}");
        ok(demo
            .call(
                Method::PUT,
                &format!("/api/v1/users/{id}"),
                &serde_json::json!({
                    "email": format!("customer{k}@sim{batch}c{k}.example"),
                    "display_name": format!("Customer {k}"),
                    "share_name": true,
                }),
                None,
            )
            .await?)?;
        let mut state = NudgeState::new(&id);
        let mut last = None;
        for (name, after) in [
            ("signup", 0),
            ("onboarding_completed", 600),
            ("report_generated", 3_600),
        ] {
            last = Some(evaluate(&nudge, &mut state, &Event::new(name), now + after));
        }
        let roll = |what: &str| (fnv1a64(&[&id, what]) % 10_000) as f64 / 10_000.0;
        // The launcher is on every page: an impression for everyone.
        let mut events =
            vec![serde_json::json!({ "id": "launcher", "type": "impression", "at": now + 3_600 })];
        let asked = if let Some(Decision::Ask(ask)) = &last {
            events.push(serde_json::json!({ "id": "ask", "type": "nudge_shown", "at": now + 3_600, "moment": ask.moment, "variant": ask.variant }));
            out.asked += 1;
            true
        } else {
            false
        };
        let shares = roll("share") < if asked { 0.22 } else { 0.08 };
        if shares {
            events.push(serde_json::json!({ "id": "share", "type": "share", "at": now + 3_700, "channel": "email" }));
            out.shared += 1;
        }
        if !events.is_empty() {
            ok(demo
                .browser_call(
                    &id,
                    "/api/v1/me/events",
                    &serde_json::json!({ "events": events }),
                )
                .await?)?;
        }
        if !shares {
            continue;
        }
        let friends = u32::from(roll("friend") < 0.7) + u32::from(roll("second friend") < 0.25);
        if friends == 0 {
            continue;
        }
        let referral = ok(demo
            .call(
                Method::GET,
                &format!("/api/v1/users/{id}/referral"),
                &serde_json::Value::Null,
                None,
            )
            .await?)?;
        let code = referral["codes"]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for j in 0..friends {
            let friend = format!("{id}-friend{j}");
            ok(demo
                .call(
                    Method::POST,
                    "/api/v1/signups",
                    &serde_json::json!({
                        "user_id": friend,
                        "email": format!("friend{j}@sim{batch}f{k}x{j}.example"),
                        "code": code,
                    }),
                    Some(&format!("signup-{friend}")),
                )
                .await?)?;
            out.referred_signups += 1;
        }
    }
    Ok(Json(out))
}

impl Demo {
    /// One browser API call for `user`, as the widget makes it: a user
    /// token minted for them, from the service's own origin.
    async fn browser_call<T: Serialize>(
        &self,
        user: &str,
        path: &str,
        body: &T,
    ) -> ApiResult<(StatusCode, serde_json::Value)> {
        let token = self.user_token(user, 60, Clock::real_now())?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ORIGIN, self.app.settings.public_url.as_str())
            .header(header::CONTENT_TYPE, "application/json");
        self.send(request, body).await
    }
}
