//! Durability: every acknowledged event survives a SIGKILL of the server in
//! the middle of a burst of ingest, and nothing is applied twice when the
//! client retries after the restart. Runs the real binary on SQLite.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

fn start(data: &std::path::Path, port: u16) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_referral-server"))
        .env("DATA_DIR", data)
        .env("PORT", port.to_string())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server { child, port };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("server did not listen");
}

/// A minimal HTTP/1.1 request; returns (status, headers+body text).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

fn batch(ids: &[String]) -> String {
    let events: Vec<String> = ids
        .iter()
        .map(|id| format!("{{\"id\":\"{id}\",\"type\":\"impression\",\"at\":1780000000}}"))
        .collect();
    format!("{{\"events\":[{}]}}", events.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill_and_are_never_applied_twice() {
    let data = std::env::temp_dir().join(format!("referral-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let mut server = start(&data, free_port());
    let port = server.port;
    let (_, signin) = http(
        port,
        "POST",
        "/api/demo/sign-in",
        None,
        r#"{"email":"load@durable.example"}"#,
    )
    .await
    .unwrap();
    let cookie = signin
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned();

    // Four clients send batches of 20 until the server dies under them.
    let acknowledged: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..4 {
        let acknowledged = acknowledged.clone();
        let cookie = cookie.clone();
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                let ids: Vec<String> = (0..20).map(|i| format!("c{client}-b{n}-e{i}")).collect();
                match http(port, "POST", "/api/events", Some(&cookie), &batch(&ids)).await {
                    Ok((202, _)) => acknowledged.lock().unwrap().push(ids),
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    server.child.wait().unwrap();
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

    // Restart on the same data and count what is stored.
    let mut server = start(&data, free_port());
    let url = format!("sqlite://{}?mode=rwc", data.join("referral.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    use sqlx::Row;
    let stored: HashSet<String> = sqlx::query("SELECT id FROM events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("id"))
        .collect();
    let lost: Vec<&String> = acked_ids
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    println!(
        "{} batches ({} events) acknowledged before SIGKILL; all stored ({} rows)",
        acked.len(),
        acked_ids.len(),
        stored.len()
    );

    // The client retries everything it sent: nothing is applied twice.
    let (status, body) = http(
        server.port,
        "POST",
        "/api/events",
        Some(&cookie),
        &batch(&acked[0]),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    assert!(
        body.contains(r#""accepted":0"#) && body.contains(r#""duplicates":20"#),
        "{body}"
    );
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("n");
    assert_eq!(count as usize, stored.len());
    server.child.kill().ok();
    server.child.wait().ok();
    let _ = std::fs::remove_dir_all(&data);
}
