//! `POST /api/v1/signups` (server API): the host reports that one of its
//! users signed up, with whatever referral it captured; core attributes,
//! and the user, the referral and the ledger record are written in one
//! transaction (all or nothing, also under `kill -9`). An
//! `Idempotency-Key` makes a retry return the first answer. See
//! `docs/adr/0003-one-transaction-per-request.md`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use referral_core::attribution::{
    attribute, Attribution, CaptureMethod, CapturedReferral, KnownPeople, ReferrerInfo, Signup,
};
use referral_core::funnel::Stage;
use referral_core::rewards::LedgerEvent;
use referral_core::ReferrerId;
use serde::{Deserialize, Serialize};

use super::referrer::read_ref_cookie;
use super::users::{check_display_name, check_external_id, email_facts};
use super::webhooks::{ledger_refusal, stored_billing};
use crate::auth::ApiKey;
use crate::error::{unique_violation, ApiError, ApiResult, Json};
use crate::outbound;
use crate::store::{access, aggregates, ledger, people, random_id, sha256_hex};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/signups", post(signup))
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The host's id for the new user.
    pub user_id: String,
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub share_name: bool,
    /// The company domain the person stated, if the host asks. It can only
    /// add a same-company flag (core checks the email's domain too).
    #[serde(default)]
    pub company_domain: Option<String>,
    /// The `referral_ref` cookie's value as the landing set it (signed).
    #[serde(default)]
    pub ref_cookie: Option<String>,
    /// A code the page captured (`getCapturedReferral()`), and when.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub captured_at: Option<u64>,
    /// A code the person typed.
    #[serde(default)]
    pub typed_code: Option<String>,
}

#[derive(Serialize)]
pub struct SignupResponse {
    pub user_id: String,
    pub referral_id: String,
    /// Core's reason: `attributed`, `no_referral`, `self_referral`, …
    pub reason: &'static str,
    pub attribution: Attribution,
}

const MAX_CODE_LEN: usize = 256;

fn captures(body: &SignupRequest, cookie_key: &[u8; 32], now: u64) -> Vec<CapturedReferral> {
    let mut captures = Vec::new();
    let short = |c: &&String| !c.is_empty() && c.len() <= MAX_CODE_LEN;
    // Only a cookie this service signed counts; its capture time is ours.
    if let Some((code, at)) = body
        .ref_cookie
        .as_ref()
        .filter(short)
        .and_then(|v| read_ref_cookie(cookie_key, v))
    {
        captures.push(CapturedReferral {
            code,
            captured_at: at.min(now),
            method: CaptureMethod::Link,
        });
    }
    if let Some(code) = body.code.as_ref().filter(short) {
        captures.push(CapturedReferral {
            code: code.clone(),
            captured_at: body.captured_at.unwrap_or(now).min(now),
            method: CaptureMethod::Link,
        });
    }
    if let Some(code) = body.typed_code.as_ref().filter(short) {
        captures.push(CapturedReferral {
            code: code.clone(),
            captured_at: now,
            method: CaptureMethod::TypedCode,
        });
    }
    captures
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| ApiError::bad("invalid_idempotency_key", "1 to 200 visible characters"))?;
    Ok(Some(key.to_owned()))
}

fn replay(stored: access::StoredResponse, request_hash: &str) -> ApiResult<Response> {
    if stored.request_hash != request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ));
    }
    let status = StatusCode::from_u16(stored.status).map_err(ApiError::internal)?;
    Ok((
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        [("idempotent-replayed", "true")],
        stored.body,
    )
        .into_response())
}

async fn signup(
    State(state): State<AppState>,
    key: ApiKey,
    headers: HeaderMap,
    Json(body): Json<SignupRequest>,
) -> ApiResult<Response> {
    check_external_id(&body.user_id)?;
    let display_name = check_display_name(body.display_name.as_deref())?;
    let (email, normalized, email_domain) = email_facts(&body.email)?;
    if body.company_domain.as_ref().is_some_and(|d| d.len() > 253) {
        return Err(ApiError::bad(
            "invalid_company_domain",
            "at most 253 characters",
        ));
    }
    let idempotency = idempotency_key(&headers)?;
    let request_hash = sha256_hex(&serde_json::to_vec(&body).map_err(ApiError::internal)?);
    let now = state.clock.now();

    let mut tx = state.db.begin().await?;
    state.db.lock_account(&mut tx, &body.user_id).await?;
    if let Some(k) = &idempotency {
        if let Some(stored) = access::idempotent_response(&mut tx, &key.id, k).await? {
            return replay(stored, &request_hash);
        }
    }
    let new_user = people::NewUser {
        external_id: &body.user_id,
        email: &email,
        normalized_email: &normalized,
        email_domain: &email_domain,
        display_name: display_name.as_deref(),
        share_name: body.share_name,
        created_at: now,
    };
    // The host may have registered the user before (PUT /api/v1/users).
    let mut bumps = aggregates::Bumps::default();
    if people::upsert_user(&mut tx, &new_user).await? {
        aggregates::user_registered(&mut tx, &mut bumps, &body.user_id).await?;
    }

    // Who could the referrers be? What the codes name, with the rewards
    // each earned this calendar month (for the velocity check).
    let captures = captures(&body, &state.settings.ref_cookie_key, now);
    let verifier = &state.settings.verifier;
    let mut candidates = Vec::new();
    for capture in &captures {
        let numeric = if capture.method == CaptureMethod::TypedCode {
            verifier
                .keyring
                .verify_typed_code(&capture.code, verifier.policy.program_id)
                .ok()
                .map(|t| t.referrer)
        } else {
            // Only a code we signed names someone worth looking up; core
            // applies the time and program policy when it attributes.
            verifier
                .keyring
                .verify_signature(&capture.code)
                .ok()
                .and_then(|c| match c.referrer {
                    ReferrerId::Numeric(n) => Some(n),
                    ReferrerId::Opaque(_) => None,
                })
        };
        let Some(numeric) = numeric.and_then(|n| i64::try_from(n).ok()) else {
            continue;
        };
        if let Some(user) = people::user_by_numeric(&mut tx, numeric).await? {
            if !candidates
                .iter()
                .any(|(n, _): &(i64, people::User)| *n == numeric)
            {
                candidates.push((numeric, user));
            }
        }
    }
    // Each candidate's ledger, locked in account order (so two signups
    // naming the same referrers cannot deadlock): the velocity count is
    // core's, read from that referrer's ledger alone.
    candidates.sort_by(|a, b| a.1.external_id.cmp(&b.1.external_id));
    let mut referrers = Vec::new();
    for (numeric, user) in candidates {
        let ledger = ledger::lock_referrer(&state.db, &mut tx, &user.external_id, now)
            .await
            .map_err(ApiError::internal)?;
        referrers.push(ReferrerInfo {
            referrer: ReferrerId::Numeric(numeric as u64),
            rewards_this_month: ledger.rewards_this_month(&user.external_id, now),
            email_domain: referral_core::fraud::email_domain(&user.email).unwrap_or_default(),
            account_id: user.external_id,
            network_prefix_hash: None,
            referred_by_account: user.referred_by,
        });
    }
    let duplicate = people::other_user_with_email(&mut tx, &normalized, &body.user_id).await?;
    let outcome = attribute(
        verifier,
        &state.settings.policy,
        &captures,
        &Signup {
            account_id: body.user_id.clone(),
            email: email.clone(),
            company_domain: body.company_domain.clone(),
            at: now,
            network_prefix_hash: None,
        },
        &referrers,
        &KnownPeople {
            account_with_same_normalized_email: duplicate,
        },
    );
    let referral_id = random_id("ref");
    let attributed = match &outcome {
        Attribution::Attributed(a) => Some(a),
        Attribution::NotAttributed { .. } => None,
    };
    let flags = attributed
        .map(|a| serde_json::to_string(&a.flags))
        .transpose()
        .map_err(ApiError::internal)?
        .unwrap_or_else(|| "[]".to_owned());
    let channel = attributed.and_then(|a| a.channel.map(|c| c.as_str()));
    people::insert_referral(
        &mut tx,
        &people::NewReferral {
            id: &referral_id,
            friend_account: &body.user_id,
            referrer_account: attributed.map(|a| a.referrer_account.as_str()),
            code: attributed.map(|a| a.code.as_str()),
            channel,
            outcome: outcome.reason(),
            review: attributed.is_some_and(|a| a.review),
            flags: &flags,
            created_at: now,
        },
    )
    .await
    .map_err(conflict_of)?;
    if let Some(a) = attributed {
        people::set_referred_by(&mut tx, &body.user_id, &a.referrer_account).await?;
        let event = LedgerEvent::Attributed {
            event_id: format!("attr:{referral_id}"),
            referral_id: referral_id.clone(),
            referrer_account: a.referrer_account.clone(),
            friend_account: body.user_id.clone(),
            review: a.review,
            at: now,
        };
        ledger::apply(
            &state.db,
            &mut tx,
            &mut bumps,
            &state.settings.program,
            &event,
            now,
        )
        .await
        .map_err(ledger_refusal)?;
        // The outbound notifications, in this transaction (the outbox).
        let notice = serde_json::json!({
            "referral_id": referral_id,
            "referrer_id": a.referrer_account,
            "friend_id": body.user_id,
            "channel": channel,
            "review": a.review,
            "flags": a.flags,
        });
        if a.review {
            outbound::emit(&mut tx, "referral.flagged", notice.clone(), now).await?;
        }
        outbound::emit(&mut tx, "referral.attributed", notice, now).await?;
        bumps.stage(
            Stage::Signup,
            &a.referrer_account,
            a.channel.map(|c| c.as_str()),
            None,
            1,
        );
        aggregates::referred_signup(&mut tx, &mut bumps, &a.referrer_account, now).await?;
    }
    // Billing events that came before this report: applied now if the
    // account was referred (in the order received), dropped if not.
    for pending in people::take_pending_billing(&mut tx, &body.user_id).await? {
        let Some(billing) = stored_billing(&pending, now) else {
            continue;
        };
        if attributed.is_none() {
            continue;
        }
        let event = billing.ledger_event(&referral_id);
        match ledger::apply(
            &state.db,
            &mut tx,
            &mut bumps,
            &state.settings.program,
            &event,
            now,
        )
        .await
        {
            // Core refuses what it refuses (another currency, …): the event
            // is dropped, as it would have been on arrival.
            Ok(_) | Err(ledger::LedgerStoreError::Refused(_)) => {}
            Err(other) => return Err(ApiError::internal(other)),
        }
    }
    let response = SignupResponse {
        user_id: body.user_id.clone(),
        referral_id,
        reason: outcome.reason(),
        attribution: outcome,
    };
    let text = serde_json::to_string(&response).map_err(ApiError::internal)?;
    if let Some(k) = &idempotency {
        access::store_response(
            &mut tx,
            &key.id,
            k,
            &access::StoredResponse {
                request_hash: request_hash.clone(),
                status: 200,
                body: text.clone(),
            },
            now,
        )
        .await
        .map_err(conflict_of)?;
    }
    bumps.write(&mut tx, &state.settings.nudge).await?;
    tx.commit().await.map_err(conflict_of)?;
    tracing::info!(user = %body.user_id, reason = response.reason, "signup");
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

/// A unique violation named by its constraint; anything else is internal.
fn conflict_of(e: sqlx::Error) -> ApiError {
    match unique_violation(&e).as_deref() {
        Some("referrals_friend_account_key") => ApiError::conflict(
            "already_signed_up",
            "this user's signup was already reported",
        ),
        Some(name) if name.starts_with("idempotency_keys") => ApiError::conflict(
            "idempotency_in_progress",
            "a request with this Idempotency-Key is being answered; retry to read its answer",
        ),
        _ => e.into(),
    }
}
