//! Users: the host registers them (server API) and the widget reads its
//! own user's links and progress (browser API).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use referral_core::{referral_url, Channel, LinkOptions, MintRequest, ReferrerId};
use serde::{Deserialize, Serialize};

use crate::auth::{ApiKey, User};
use crate::error::{ApiError, ApiResult, Json};
use referral_core::funnel::Stage;

use crate::store::{aggregates, ledger, people};
use crate::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    let browser = Router::new()
        .route(
            "/api/v1/me/referral",
            get(my_referral).options(super::preflight),
        )
        .route("/api/v1/me/stats", get(my_stats).options(super::preflight))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            super::browser_write,
        ));
    Router::new()
        .route(
            "/api/v1/users/{id}",
            put(identify).delete(super::privacy::erase),
        )
        .route("/api/v1/users/{id}/referral", get(user_referral))
        .merge(browser)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identify {
    pub email: String,
    /// The name friends see ("You've been referred by …").
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether the person agreed to show `display_name` to friends.
    #[serde(default)]
    pub share_name: bool,
}

#[derive(Serialize)]
pub struct UserResponse {
    pub id: String,
    pub display_name: Option<String>,
    pub share_name: bool,
    pub created: bool,
}

/// Checks the host's id for a user: 1 to 128 bytes, no control characters.
pub fn check_external_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_user_id",
            "user ids have 1 to 128 characters",
        ));
    }
    Ok(())
}

pub fn check_display_name(name: Option<&str>) -> ApiResult<Option<String>> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 80 || n.chars().any(char::is_control)) {
        return Err(ApiError::bad(
            "invalid_display_name",
            "display names have at most 80 characters",
        ));
    }
    Ok(name.map(str::to_owned))
}

/// What core derives from an email: the normalised form and the domain.
pub fn email_facts(email: &str) -> ApiResult<(String, String, String)> {
    let email = email.trim().to_ascii_lowercase();
    if email.len() > 254 || email.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_email",
            "emails have at most 254 characters and no control characters",
        ));
    }
    let normalized = referral_core::fraud::normalize_email(&email)
        .map_err(|e| ApiError::bad("invalid_email", e.to_string()))?;
    let domain = referral_core::fraud::email_domain(&email)
        .map_err(|e| ApiError::bad("invalid_email", e.to_string()))?;
    Ok((email, normalized, domain))
}

/// `PUT /api/v1/users/{id}`: registers or updates a user of the host.
async fn identify(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    Json(body): Json<Identify>,
) -> ApiResult<Json<UserResponse>> {
    check_external_id(&id)?;
    let display_name = check_display_name(body.display_name.as_deref())?;
    let (email, normalized, domain) = email_facts(&body.email)?;
    let user = people::NewUser {
        external_id: &id,
        email: &email,
        normalized_email: &normalized,
        email_domain: &domain,
        display_name: display_name.as_deref(),
        share_name: body.share_name,
        created_at: state.clock.now(),
    };
    let mut tx = state.db.begin().await?;
    // Registration and the person's first share serialise on the account
    // (`aggregates::user_registered` / `mark_referring` read each other's rows).
    state.db.lock_account(&mut tx, &id).await?;
    let created = people::upsert_user(&mut tx, &user).await?;
    if created {
        let mut bumps = aggregates::Bumps::default();
        aggregates::user_registered(&mut tx, &mut bumps, &id).await?;
        bumps.write(&mut tx, &state.settings.nudge).await?;
    }
    tx.commit().await?;
    Ok(Json(UserResponse {
        id,
        display_name,
        share_name: body.share_name,
        created,
    }))
}

#[derive(Serialize)]
pub struct ReferralLinks {
    /// The code for plain links (the `link` channel).
    pub code: String,
    /// One signed code per channel, so shares are attributed per channel.
    pub codes: BTreeMap<&'static str, String>,
    pub links: BTreeMap<&'static str, String>,
    /// A short code a person can read out or type.
    pub typed_code: String,
    pub name: Option<String>,
}

async fn referral_links(state: &AppState, external_id: &str) -> ApiResult<ReferralLinks> {
    let mut conn = state.db.read.acquire().await?;
    let user = people::user_by_external(&mut conn, external_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("no such user; register it with PUT /api/v1/users/{id}")
        })?;
    drop(conn);
    let now = state.clock.now();
    let verifier = &state.settings.verifier;
    let program = verifier.policy.program_id;
    let mut codes = BTreeMap::new();
    let mut links = BTreeMap::new();
    for channel in Channel::ALL {
        let request = MintRequest {
            program_id: program,
            referrer: ReferrerId::Numeric(user.numeric_id as u64),
            channel,
            campaign: None,
        };
        let code = verifier.mint(&request, now).map_err(ApiError::internal)?;
        let link = referral_url(
            &LinkOptions::new(&state.settings.link_base),
            code.as_str(),
            channel,
        )
        .map_err(ApiError::internal)?;
        codes.insert(channel.as_str(), code.into_string());
        links.insert(channel.as_str(), link);
    }
    Ok(ReferralLinks {
        code: codes.get("link").cloned().unwrap_or_default(),
        codes,
        links,
        typed_code: verifier.keyring.typed_code(program, user.numeric_id as u64),
        name: user.display_name,
    })
}

/// `GET /api/v1/users/{id}/referral` (server API).
async fn user_referral(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralLinks>> {
    check_external_id(&id)?;
    Ok(Json(referral_links(&state, &id).await?))
}

/// `GET /api/v1/me/referral` (browser API).
async fn my_referral(
    State(state): State<AppState>,
    User(user): User,
) -> ApiResult<Json<ReferralLinks>> {
    Ok(Json(referral_links(&state, &user.subject).await?))
}

#[derive(Serialize)]
pub struct RewardLine {
    pub id: String,
    pub status: referral_core::rewards::EntryStatus,
    pub value: referral_core::rewards::RewardValue,
}

#[derive(Serialize)]
pub struct Stats {
    pub invites: i64,
    pub signups: i64,
    pub rewards: usize,
    pub entries: Vec<RewardLine>,
}

/// `GET /api/v1/me/stats`: the signed-in user's progress. Reads this
/// person's rows, their own ledger and the one referral that brought them:
/// the same cost at any size of the program.
async fn my_stats(State(state): State<AppState>, User(user): User) -> ApiResult<Json<Stats>> {
    let account = user.subject;
    let mut conn = state.db.read.acquire().await?;
    // Invites: the events core counts as shares (`share`, `copy`).
    let invites = people::event_counts_by_type(&mut conn, &account)
        .await?
        .into_iter()
        .filter(|(kind, _)| Stage::of_widget_event(kind) == Some(Stage::Share))
        .map(|(_, n)| n)
        .sum();
    let signups = people::count_referrals_by(&mut conn, &account).await?;
    let now = state.clock.now();
    // Their rewards as a referrer (their own ledger) and as a friend (the
    // one referral that brought them, not their referrer's whole ledger).
    let ledgers = ledger::ledgers_of(&mut conn, &account)
        .await
        .map_err(ApiError::internal)?;
    let entries: Vec<RewardLine> = ledgers
        .iter()
        .flat_map(|ledger| {
            ledger
                .entries
                .iter()
                .filter(|e| e.beneficiary == account)
                .map(|e| RewardLine {
                    id: e.id.clone(),
                    status: ledger.status(e, now),
                    value: e.value.clone(),
                })
        })
        .collect();
    Ok(Json(Stats {
        invites,
        signups,
        rewards: entries.len(),
        entries,
    }))
}
