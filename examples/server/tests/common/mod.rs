//! The test harness: a service on a fresh database (SQLite in a temporary
//! directory, or a new PostgreSQL database when `TEST_DATABASE_URL` names a
//! server), called in process through the router with a peer address.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use referral_core::UserTokenRequest;
use referral_server::config::ServeArgs;
use referral_server::{app, AppState, Clock, Db, Secrets, Settings};
use serde_json::Value;
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:8080";
pub const ADMIN_EMAIL: &str = "admin@acme.example";
pub const ADMIN_PASSWORD: &str = "a long admin password";

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

/// A fresh, empty database: SQLite in a temporary directory, or a new
/// database on the PostgreSQL server `TEST_DATABASE_URL` names.
pub async fn fresh_database_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) => {
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", unique());
            let admin = sqlx::AnyPool::connect(&server).await.expect("postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create database");
            admin.close().await;
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            format!("{base}/{name}")
        }
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("referral-test-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}?mode=rwc", dir.join("test.db").display())
        }
    }
}

pub struct Service {
    pub router: Router,
    pub state: AppState,
    pub api_key: String,
    pub secrets_webhook: Vec<u8>,
}

pub fn args(extra: &[&str]) -> ServeArgs {
    let mut all = vec!["serve"];
    if !extra.contains(&"--public-url") {
        all.extend(["--public-url", ORIGIN]);
    }
    all.extend_from_slice(extra);
    <ServeArgs as clap::Parser>::parse_from(all)
}

pub async fn service(extra: &[&str]) -> Service {
    service_with(extra, None).await
}

/// `service` with the widget package read from `pkg_dir`.
pub async fn service_with(extra: &[&str], pkg_dir: Option<std::path::PathBuf>) -> Service {
    // The server's log, shown with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
    let args = args(extra);
    let secrets = Secrets::random();
    let mut settings = Settings::new(&args, &secrets).expect("settings");
    if let Some(dir) = pkg_dir {
        settings.pkg_dir = dir;
    }
    let db = Db::connect(&fresh_database_url().await)
        .await
        .expect("database");
    if args.demo {
        settings.demo_api_key = Some(
            referral_server::demo::provision_api_key(&db, Clock::real_now())
                .await
                .unwrap(),
        );
    }
    let state = AppState::new(db, settings, Clock::default());
    let api_key = referral_server::routes::admin::create_api_key(&state, "tests")
        .await
        .unwrap()
        .key;
    let hash = referral_server::auth::hash_password(ADMIN_PASSWORD).unwrap();
    let mut conn = state.db.pool.acquire().await.unwrap();
    referral_server::store::access::insert_admin(&mut conn, ADMIN_EMAIL, &hash, 0)
        .await
        .unwrap();
    drop(conn);
    Service {
        router: app(state.clone()),
        state,
        api_key,
        secrets_webhook: secrets.webhook_secret,
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub cookies: Vec<String>,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
    /// `name=value` of a Set-Cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }
}

/// One request; `peer` is the client address the server sees.
pub struct Call<'a> {
    pub method: &'a str,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub peer: IpAddr,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, uri: impl Into<String>) -> Call<'a> {
        Call {
            method,
            uri: uri.into(),
            headers: vec![],
            body: None,
            peer: "127.0.0.1".parse().unwrap(),
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_owned(), v.into()));
        self
    }
    pub fn json(mut self, v: &Value) -> Self {
        self.body = Some(v.to_string());
        self.header("content-type", "application/json")
    }
    pub fn raw(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }
    pub fn from(mut self, ip: &str) -> Self {
        self.peer = ip.parse().unwrap();
        self
    }
    /// The response as it comes, body unread.
    pub async fn send_raw(self, router: &Router) -> axum::response::Response {
        let mut req = Request::builder().method(self.method).uri(&self.uri);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut req = req
            .body(self.body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(self.peer, 40000)));
        router.clone().oneshot(req).await.unwrap()
    }

    pub async fn send(self, router: &Router) -> Reply {
        let res = self.send_raw(router).await;
        let status = res.status();
        let cookies = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            cookies,
            location,
            content_type,
            text,
            body,
        }
    }
}

impl Service {
    pub fn user_token(&self, user: &str) -> String {
        self.state
            .settings
            .user_tokens
            .mint_user_token(
                &UserTokenRequest {
                    subject: user.to_owned(),
                    audience: ORIGIN.to_owned(),
                    ttl_secs: 900,
                },
                Clock::real_now(),
            )
            .unwrap()
    }

    /// The server API's signup, as a host's backend calls it.
    pub async fn signup(&self, body: Value) -> Reply {
        Call::new("POST", "/api/v1/signups")
            .bearer(&self.api_key)
            .json(&body)
            .send(&self.router)
            .await
    }

    pub async fn register(&self, id: &str, email: &str, name: &str) -> Reply {
        Call::new("PUT", format!("/api/v1/users/{id}"))
            .bearer(&self.api_key)
            .json(&serde_json::json!({ "email": email, "display_name": name, "share_name": true }))
            .send(&self.router)
            .await
    }

    /// The referral links of a registered user (browser API).
    pub async fn links(&self, user: &str) -> Value {
        let reply = Call::new("GET", "/api/v1/me/referral")
            .bearer(&self.user_token(user))
            .send(&self.router)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body
    }

    pub fn webhook_call(&self, event: &Value) -> Call<'static> {
        use hmac::{Hmac, Mac};
        let body = event.to_string();
        let t = Clock::real_now();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secrets_webhook).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        Call::new("POST", "/api/v1/webhooks/billing")
            .header("referral-signature", format!("t={t},v1={sig}"))
            .header("content-type", "application/json")
            .raw(body)
    }

    pub async fn webhook(&self, event: Value) -> Reply {
        self.webhook_call(&event).send(&self.router).await
    }

    /// Signs the admin in: (cookie, csrf token).
    pub async fn admin(&self) -> (String, String) {
        let reply = Call::new("POST", "/api/admin/session")
            .json(&serde_json::json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
            .send(&self.router)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        (
            reply.cookie("referral_admin").unwrap(),
            reply.body["csrf_token"].as_str().unwrap().to_owned(),
        )
    }
}

/// The real binary on a free port with extra environment; killed on drop.
pub struct Binary {
    pub child: std::process::Child,
    pub port: u16,
    pub data: std::path::PathBuf,
}

impl Binary {
    pub fn start(env: &[(&str, &str)]) -> Binary {
        let data = std::env::temp_dir().join(format!("referral-bin-{}", unique()));
        std::fs::create_dir_all(&data).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_referral-server"));
        command
            .env("DATA_DIR", &data)
            .env_remove("DATABASE_URL")
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let binary = Binary {
            child: command.spawn().unwrap(),
            port,
            data,
        };
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return binary;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("server did not listen"); // `binary` is dropped: killed and reaped
    }

    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A connection from a chosen loopback address (Linux routes 127/8 to lo).
pub async fn connect_from(source: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
}
