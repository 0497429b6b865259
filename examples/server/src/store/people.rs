//! Users (by the host's id), referrals and widget events.

use sqlx::{AnyConnection, Row};

pub struct User {
    pub numeric_id: i64,
    pub external_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub share_name: bool,
    pub referred_by: Option<String>,
}

pub struct NewUser<'a> {
    pub external_id: &'a str,
    pub email: &'a str,
    pub normalized_email: &'a str,
    pub email_domain: &'a str,
    pub display_name: Option<&'a str>,
    pub share_name: bool,
    pub created_at: u64,
}

fn user_from(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        numeric_id: row.try_get("numeric_id")?,
        external_id: row.try_get("external_id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        share_name: row.try_get::<i64, _>("share_name")? != 0,
        referred_by: row.try_get("referred_by")?,
    })
}

const USER_COLUMNS: &str = "numeric_id, external_id, email, display_name, share_name, referred_by";

pub async fn user_by_external(
    conn: &mut AnyConnection,
    external_id: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE external_id = $1"
    ))
    .bind(external_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(user_from)
    .transpose()
}

pub async fn user_by_numeric(
    conn: &mut AnyConnection,
    numeric_id: i64,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE numeric_id = $1"
    ))
    .bind(numeric_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(user_from)
    .transpose()
}

/// Registers a user or updates what the host says of one (no
/// check-then-insert race between processes). The numeric id
/// comes from the database on first insert and never changes. True if the
/// user was new.
pub async fn upsert_user(
    conn: &mut AnyConnection,
    user: &NewUser<'_>,
) -> Result<bool, sqlx::Error> {
    // Insert first: of two concurrent first registrations exactly one
    // inserts (the other waits for it, then updates), so "new" is exact.
    let inserted = sqlx::query("INSERT INTO users (external_id, email, normalized_email, email_domain, display_name, share_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (external_id) DO NOTHING")
        .bind(user.external_id)
        .bind(user.email)
        .bind(user.normalized_email)
        .bind(user.email_domain)
        .bind(user.display_name)
        .bind(i64::from(user.share_name))
        .bind(user.created_at as i64)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1;
    if !inserted {
        sqlx::query("UPDATE users SET email = $1, normalized_email = $2, email_domain = $3, display_name = $4, share_name = $5 WHERE external_id = $6")
            .bind(user.email)
            .bind(user.normalized_email)
            .bind(user.email_domain)
            .bind(user.display_name)
            .bind(i64::from(user.share_name))
            .bind(user.external_id)
            .execute(conn)
            .await?;
    }
    Ok(inserted)
}

pub async fn set_referred_by(
    conn: &mut AnyConnection,
    external_id: &str,
    referrer: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET referred_by = $1 WHERE external_id = $2")
        .bind(referrer)
        .bind(external_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Another user with the same normalised email, if any.
pub async fn other_user_with_email(
    conn: &mut AnyConnection,
    normalized_email: &str,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT external_id FROM users WHERE normalized_email = $1 AND external_id <> $2 ORDER BY numeric_id LIMIT 1")
        .bind(normalized_email)
        .bind(external_id)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("external_id"))
        .transpose()
}

pub struct NewReferral<'a> {
    pub id: &'a str,
    pub friend_account: &'a str,
    pub referrer_account: Option<&'a str>,
    pub code: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub outcome: &'a str,
    pub review: bool,
    pub flags: &'a str,
    pub created_at: u64,
}

pub async fn insert_referral(
    conn: &mut AnyConnection,
    r: &NewReferral<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO referrals (id, friend_account, referrer_account, code, channel, outcome, review, flags, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(r.id)
        .bind(r.friend_account)
        .bind(r.referrer_account)
        .bind(r.code)
        .bind(r.channel)
        .bind(r.outcome)
        .bind(i64::from(r.review))
        .bind(r.flags)
        .bind(r.created_at as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// The attributed referral of a friend, for billing events.
pub async fn referral_of_friend(
    conn: &mut AnyConnection,
    friend: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query(
        "SELECT id FROM referrals WHERE friend_account = $1 AND referrer_account IS NOT NULL",
    )
    .bind(friend)
    .fetch_optional(conn)
    .await?
    .map(|r| r.try_get("id"))
    .transpose()
}

/// True if the host reported this user's signup (attributed or not).
pub async fn signup_reported(conn: &mut AnyConnection, friend: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM referrals WHERE friend_account = $1")
            .bind(friend)
            .fetch_optional(conn)
            .await?
            .is_some(),
    )
}

/// Keeps a billing event that arrived before its account's signup report
/// (a redelivery of the same event id is kept once).
pub async fn insert_pending_billing(
    conn: &mut AnyConnection,
    event_id: &str,
    account_id: &str,
    body: &str,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO pending_billing_events (event_id, account_id, body, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING")
        .bind(event_id)
        .bind(account_id)
        .bind(body)
        .bind(now as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Remembers that a billing system's id (a customer, a charge) names
/// `account`, or (not known yet) the billing system's `customer`; true
/// when it is new.
pub async fn insert_billing_link(
    conn: &mut AnyConnection,
    external_id: &str,
    account: Option<&str>,
    customer: Option<&str>,
    now: u64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("INSERT INTO billing_links (external_id, account, customer, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (external_id) DO NOTHING")
        .bind(external_id)
        .bind(account)
        .bind(customer)
        .bind(now as i64)
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

/// The account a billing system's id names, if linked (through its
/// customer's link for a charge linked to a customer).
pub async fn billing_link(
    conn: &mut AnyConnection,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT l.account, c.account AS via FROM billing_links l LEFT JOIN billing_links c ON c.external_id = l.customer WHERE l.external_id = $1")
        .bind(external_id)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let account: Option<String> = row.try_get("account")?;
    let via: Option<String> = row.try_get("via")?;
    Ok(account.or(via))
}

/// Takes (reads and deletes, in one statement) an account's pending
/// billing events, oldest first.
pub async fn take_pending_billing(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let mut rows = sqlx::query(
        "DELETE FROM pending_billing_events WHERE account_id = $1 RETURNING received_at, event_id, body",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get::<i64, _>("received_at")?,
            r.try_get::<String, _>("event_id")?,
            r.try_get::<String, _>("body")?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    rows.sort();
    Ok(rows.into_iter().map(|(_, _, body)| body).collect())
}

pub async fn count_referrals_by(
    conn: &mut AnyConnection,
    referrer: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE referrer_account = $1")
        .bind(referrer)
        .fetch_one(conn)
        .await?
        .try_get("n")
}

pub struct ReviewItem {
    pub referral_id: String,
    pub friend: String,
    pub referrer: Option<String>,
    pub flags: String,
}

pub async fn review_queue(conn: &mut AnyConnection) -> Result<Vec<ReviewItem>, sqlx::Error> {
    sqlx::query("SELECT id, friend_account, referrer_account, flags FROM referrals WHERE review = 1 AND decision IS NULL ORDER BY created_at, id LIMIT 500")
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ReviewItem {
                referral_id: r.try_get("id")?,
                friend: r.try_get("friend_account")?,
                referrer: r.try_get("referrer_account")?,
                flags: r.try_get("flags")?,
            })
        })
        .collect()
}

pub struct NewEvent<'a> {
    pub user_id: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub channel: Option<&'a str>,
    pub moment: Option<&'a str>,
    pub at: u64,
    pub received_at: u64,
}

/// True if stored, false if this user already sent an event with this id.
pub async fn insert_event(conn: &mut AnyConnection, e: &NewEvent<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("INSERT INTO events (user_id, id, type, channel, moment, at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, id) DO NOTHING")
        .bind(e.user_id)
        .bind(e.id)
        .bind(e.kind)
        .bind(e.channel)
        .bind(e.moment)
        .bind(e.at as i64)
        .bind(e.received_at as i64)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A user's stored widget events, counted by type.
pub async fn event_counts_by_type(
    conn: &mut AnyConnection,
    user: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query("SELECT type, COUNT(*) AS n FROM events WHERE user_id = $1 GROUP BY type")
        .bind(user)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("type")?, r.try_get("n")?)))
        .collect()
}

/// A person's stored nudge state and its version.
pub async fn nudge_state(
    conn: &mut AnyConnection,
    user: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query("SELECT state, version FROM nudge_states WHERE user_id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await?
        .map(|r| Ok((r.try_get("state")?, r.try_get("version")?)))
        .transpose()
}

/// Stores `state` if the stored version is still `expected` (0: none yet);
/// the new version, or `None` when another write came first.
pub async fn put_nudge_state(
    conn: &mut AnyConnection,
    user: &str,
    state: &str,
    expected: i64,
    now: u64,
) -> Result<Option<i64>, sqlx::Error> {
    let done = if expected == 0 {
        sqlx::query("INSERT INTO nudge_states (user_id, state, version, updated_at) VALUES ($1, $2, 1, $3) ON CONFLICT (user_id) DO NOTHING")
            .bind(user)
            .bind(state)
            .bind(now as i64)
            .execute(conn)
            .await?
    } else {
        sqlx::query("UPDATE nudge_states SET state = $1, version = version + 1, updated_at = $2 WHERE user_id = $3 AND version = $4")
            .bind(state)
            .bind(now as i64)
            .bind(user)
            .bind(expected)
            .execute(conn)
            .await?
    };
    Ok((done.rows_affected() == 1).then_some(expected + 1))
}
