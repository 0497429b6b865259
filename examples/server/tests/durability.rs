//! Crashes: the real binary is killed with SIGKILL in the middle of bursts
//! of event uploads and of signups, restarted on the same data, and the
//! clients retry. Every acknowledged event is stored once; every signup is
//! whole or absent (user, referral and ledger record together) and its
//! retry succeeds. On SQLite, and on PostgreSQL with `TEST_DATABASE_URL`.

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use referral_core::{Keyring, UserTokenRequest};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PUBLIC_URL: &str = "http://127.0.0.1:9";
const TOKEN_KEY: [u8; 32] = [0x5a; 32];

struct Server {
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(data: &std::path::Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_referral-server"));
    c.env("DATA_DIR", data)
        .env("DATABASE_URL", url)
        .env("PUBLIC_URL", PUBLIC_URL)
        .env("REFERRAL_USER_TOKEN_KEY_HEX", hex::encode(TOKEN_KEY))
        .env("RATE_EVENTS_PER_MINUTE", "1000000")
        .env("RATE_API_PER_MINUTE", "1000000")
        .env("RUST_LOG", "warn");
    c
}

fn api_key(data: &std::path::Path, url: &str) -> String {
    let out = command(data, url)
        .args(["create-api-key", "--name", "durability"])
        .output()
        .expect("create-api-key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn start(data: &std::path::Path, url: &str) -> Server {
    let port = free_port();
    let mut child = command(data, url)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server { child, port };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("server did not listen");
}

fn kill(server: &mut Server) {
    server.child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    server.child.wait().unwrap();
}

/// A minimal HTTP/1.1 request; returns (status, headers+body text).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, response))
}

fn user_token(user: &str) -> String {
    Keyring::new(1, &TOKEN_KEY)
        .unwrap()
        .mint_user_token(
            &UserTokenRequest {
                subject: user.into(),
                audience: PUBLIC_URL.into(),
                ttl_secs: 3600,
            },
            referral_server::Clock::real_now(),
        )
        .unwrap()
}

fn batch(ids: &[String]) -> String {
    let events: Vec<String> = ids
        .iter()
        .map(|id| format!("{{\"id\":\"{id}\",\"type\":\"impression\",\"at\":1780000000}}"))
        .collect();
    format!("{{\"events\":[{}]}}", events.join(","))
}

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let data = std::env::temp_dir().join(format!("referral-{name}-{}", common::unique()));
    std::fs::create_dir_all(&data).unwrap();
    data
}

async fn database_url(data: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(_) => common::fresh_database_url().await,
        Err(_) => format!("sqlite://{}?mode=rwc", data.join("referral.db").display()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill_and_are_never_applied_twice() {
    let data = fresh_dir("events");
    let url = database_url(&data).await;
    let mut server = start(&data, &url);
    let port = server.port;
    let auth = format!("Bearer {}", user_token("load-user"));

    // Four clients send batches of 20 until the server dies under them.
    let acknowledged: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..4 {
        let acknowledged = acknowledged.clone();
        let auth = auth.clone();
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                let ids: Vec<String> = (0..20).map(|i| format!("c{client}-b{n}-e{i}")).collect();
                let headers = [("Authorization", auth.as_str())];
                match http(port, "POST", "/api/v1/me/events", &headers, &batch(&ids)).await {
                    Ok((202, _)) => acknowledged.lock().unwrap().push(ids),
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    kill(&mut server);
    for c in clients {
        c.await.unwrap();
    }
    let acked: Vec<Vec<String>> = acknowledged.lock().unwrap().clone();
    let acked_ids: HashSet<String> = acked.iter().flatten().cloned().collect();
    assert!(
        acked.len() >= 10,
        "the burst was too short to mean anything: {} batches",
        acked.len()
    );

    let mut server = start(&data, &url);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let stored: HashSet<String> = sqlx::query("SELECT id FROM events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("id"))
        .collect();
    let lost = acked_ids.iter().filter(|id| !stored.contains(*id)).count();
    assert_eq!(lost, 0, "{lost} acknowledged events lost");
    println!(
        "{} batches acknowledged before SIGKILL; all stored",
        acked.len()
    );

    // The client retries: nothing is applied twice.
    let headers = [("Authorization", auth.as_str())];
    let (status, body) = http(
        server.port,
        "POST",
        "/api/v1/me/events",
        &headers,
        &batch(&acked[0]),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    assert!(
        body.contains(r#""accepted":0"#) && body.contains(r#""duplicates":20"#),
        "{body}"
    );
    kill(&mut server);
    pool.close().await;
    let _ = std::fs::remove_dir_all(&data);
}

/// What a half-written signup would look like: a user without a referral,
/// or an attributed referral without its ledger record.
async fn torn_signups(pool: &sqlx::AnyPool) -> (i64, i64) {
    let users_without_referral: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM users u WHERE u.external_id LIKE 'friend-%' AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.friend_account = u.external_id)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .get("n");
    let referrals_without_ledger: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM referrals r WHERE r.referrer_account IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ledger_events l WHERE l.event_id = 'attr:' || r.id)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .get("n");
    (users_without_referral, referrals_without_ledger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signup_killed_at_any_point_is_whole_or_absent_and_its_retry_succeeds() {
    let data = fresh_dir("signups");
    let url = database_url(&data).await;
    let key = api_key(&data, &url);
    let auth = format!("Bearer {key}");
    let mut server = start(&data, &url);
    let headers = [("Authorization", auth.as_str())];
    let (status, _) = http(
        server.port,
        "PUT",
        "/api/v1/users/referrer",
        &headers,
        r#"{"email":"rita@ritaco.example","display_name":"Rita","share_name":true}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let referrer_token = format!("Bearer {}", user_token("referrer"));
    let (_, links) = http(
        server.port,
        "GET",
        "/api/v1/me/referral",
        &[("Authorization", referrer_token.as_str())],
        "",
    )
    .await
    .unwrap();
    let code = links
        .split("\"code\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a code")
        .to_owned();

    sqlx::any::install_default_drivers();
    let signup_body = move |n: &str| {
        format!(
            r#"{{"user_id":"friend-{n}","email":"friend{n}@friends{n}.example","code":"{code}"}}"#
        )
    };
    let mut sent: Vec<String> = Vec::new();
    // Several rounds: each kills the server at a different moment.
    for (round, delay_ms) in [150u64, 260, 370, 90].into_iter().enumerate() {
        let attempted: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut clients = Vec::new();
        let port = server.port;
        for client in 0..4 {
            let attempted = attempted.clone();
            let auth = auth.clone();
            let signup_body = signup_body.clone();
            clients.push(tokio::spawn(async move {
                for n in 0.. {
                    let id = format!("r{round}c{client}n{n}");
                    attempted.lock().unwrap().push(id.clone());
                    let idem = format!("signup-{id}");
                    let headers = [
                        ("Authorization", auth.as_str()),
                        ("Idempotency-Key", idem.as_str()),
                    ];
                    match http(port, "POST", "/api/v1/signups", &headers, &signup_body(&id)).await {
                        Ok((200, _)) => {}
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        kill(&mut server);
        for c in clients {
            c.await.unwrap();
        }
        let attempted = attempted.lock().unwrap().clone();
        assert!(
            attempted.len() >= 4,
            "round {round}: too few signups attempted"
        );
        sent.extend(attempted);

        // After the crash: nothing half-written, whatever the moment.
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        assert_eq!(
            torn_signups(&pool).await,
            (0, 0),
            "round {round}: a torn signup"
        );
        pool.close().await;

        // Restart; the host retries every signup it sent (with its key):
        // each one answers 200, first time or replayed, and none is lost.
        server = start(&data, &url);
        for id in &sent {
            let idem = format!("signup-{id}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Idempotency-Key", idem.as_str()),
            ];
            let (status, body) = http(
                server.port,
                "POST",
                "/api/v1/signups",
                &headers,
                &signup_body(id),
            )
            .await
            .unwrap();
            assert_eq!(status, 200, "retry of {id}: {body}");
            assert!(body.contains(r#""reason":"attributed""#), "{body}");
        }
    }
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let referrals: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE referrer_account = 'referrer'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get("n");
    assert_eq!(
        referrals as usize,
        sent.len(),
        "every signup attributed exactly once"
    );
    assert_eq!(torn_signups(&pool).await, (0, 0));
    println!("{} signups across 4 SIGKILLs: all whole", sent.len());
    kill(&mut server);
    pool.close().await;
    let _ = std::fs::remove_dir_all(&data);
}
