//! Who may do what: admins, server-side sessions, API keys, idempotency
//! records, and the demo host's accounts.

use sqlx::{AnyConnection, Row};

pub async fn admin_count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM admins")
        .fetch_one(conn)
        .await?
        .try_get("n")
}

pub async fn insert_admin(
    conn: &mut AnyConnection,
    email: &str,
    password_hash: &str,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO admins (email, password_hash, created_at) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(password_hash)
        .bind(now as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored password hash of an admin, by email.
pub async fn admin_password_hash(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT password_hash FROM admins WHERE email = $1")
        .bind(email)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("password_hash"))
        .transpose()
}

pub struct Session {
    pub subject: String,
    pub csrf_token: String,
    pub expires_at: u64,
}

pub async fn insert_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    kind: &str,
    subject: &str,
    csrf_token: &str,
    now: u64,
    expires_at: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (token_hash, kind, subject, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(token_hash)
        .bind(kind)
        .bind(subject)
        .bind(csrf_token)
        .bind(now as i64)
        .bind(expires_at as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// A live session of `kind` by its token's hash.
pub async fn session(
    conn: &mut AnyConnection,
    token_hash: &str,
    kind: &str,
    now: u64,
) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query("SELECT subject, csrf_token, expires_at FROM sessions WHERE token_hash = $1 AND kind = $2 AND expires_at > $3")
        .bind(token_hash)
        .bind(kind)
        .bind(now as i64)
        .fetch_optional(conn)
        .await?
        .map(|r| {
            Ok(Session {
                subject: r.try_get("subject")?,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: r.try_get::<i64, _>("expires_at")? as u64,
            })
        })
        .transpose()
}

pub async fn delete_session(conn: &mut AnyConnection, token_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every session of a subject (sign out everywhere).
pub async fn delete_sessions_of(
    conn: &mut AnyConnection,
    kind: &str,
    subject: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE kind = $1 AND subject = $2")
            .bind(kind)
            .bind(subject)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

pub async fn delete_expired_sessions(
    conn: &mut AnyConnection,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now as i64)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
}

pub async fn insert_api_key(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
    secret_hash: &str,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_keys (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(secret_hash)
        .bind(now as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// The secret hash of a live (not revoked) key.
pub async fn api_key_hash(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT secret_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("secret_hash"))
        .transpose()
}

pub async fn list_api_keys(conn: &mut AnyConnection) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id")
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ApiKeyRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get::<i64, _>("created_at")? as u64,
                revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(|t| t as u64),
            })
        })
        .collect()
}

/// True if a live key was revoked.
pub async fn revoke_api_key(
    conn: &mut AnyConnection,
    id: &str,
    now: u64,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now as i64)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn revoke_api_keys_named(
    conn: &mut AnyConnection,
    name: &str,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
        .bind(now as i64)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

pub async fn idempotent_response(
    conn: &mut AnyConnection,
    api_key_id: &str,
    key: &str,
) -> Result<Option<StoredResponse>, sqlx::Error> {
    sqlx::query("SELECT request_hash, status, body FROM idempotency_keys WHERE api_key_id = $1 AND key = $2")
        .bind(api_key_id)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .map(|r| {
            Ok(StoredResponse {
                request_hash: r.try_get("request_hash")?,
                status: r.try_get::<i64, _>("status")? as u16,
                body: r.try_get("body")?,
            })
        })
        .transpose()
}

pub async fn store_response(
    conn: &mut AnyConnection,
    api_key_id: &str,
    key: &str,
    response: &StoredResponse,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(api_key_id)
        .bind(key)
        .bind(&response.request_hash)
        .bind(i64::from(response.status))
        .bind(&response.body)
        .bind(now as i64)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_demo_user(
    conn: &mut AnyConnection,
    id: &str,
    email: &str,
    password_hash: &str,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO demo_users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(now as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// (id, password hash) of a demo account by email.
pub async fn demo_user_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query("SELECT id, password_hash FROM demo_users WHERE email = $1")
        .bind(email)
        .fetch_optional(conn)
        .await?
        .map(|r| Ok((r.try_get("id")?, r.try_get("password_hash")?)))
        .transpose()
}

pub async fn demo_user_email(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT email FROM demo_users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("email"))
        .transpose()
}
