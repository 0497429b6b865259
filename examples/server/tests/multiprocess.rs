//! Several `referral-server` processes on one PostgreSQL database: two,
//! then a third started under load, all sharing one data directory (the
//! secrets) and one database. Signups for a handful of referrers (so the
//! per-referrer ledger locks contend across processes), billing webhooks
//! for those accounts (payments, refunds, cancellations, redeliveries sent
//! to two processes at once, billing that came before its signup) and
//! widget event batches (some sent twice at once) go round-robin through
//! all of them from many concurrent tasks. Then: no 5xx (every status is
//! recorded), every answer what core's `ProgramLedger` says it should be,
//! the event log whole (no event twice, every attributed signup's
//! `attr:<referral id>`), `store::ledger::recount` equal to the
//! per-referrer ledgers, no reward twice and none lost, the velocity rule
//! serialised per referrer, and the funnel's counters equal to the recount.
//!
//! PostgreSQL only (`TEST_DATABASE_URL`; `tests/run-postgres.sh` sets it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use referral_core::fraud::FraudFlag;
use referral_core::funnel::Stage;
use referral_core::rewards::{
    Ledger, LedgerEvent, Money, Program, ProgramLedger, ReversalReason, Side,
};
use referral_core::{Keyring, UserTokenRequest};
use referral_server::store::ledger;
use referral_server::Clock;
use serde_json::{json, Value};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PUBLIC_URL: &str = "http://127.0.0.1:9";
const ADMIN_EMAIL: &str = "admin@acme.example";
const ADMIN_PASSWORD: &str = "a long admin password";

fn postgres() -> bool {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        return true;
    }
    println!("skipped: several processes need PostgreSQL (set TEST_DATABASE_URL, or run tests/run-postgres.sh)");
    false
}

// ---------------------------------------------------------------------
// The processes.

/// One `referral-server serve`; killed (and reaped) when dropped, also
/// when the test panics.
struct Process {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared data directory; removed when dropped.
struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(data: &Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_referral-server"));
    c.env("DATA_DIR", data).env("DATABASE_URL", url);
    // Every secret from the shared data directory.
    for name in [
        "REFERRAL_SIGNING_KEY_HEX",
        "REFERRAL_USER_TOKEN_KEY_HEX",
        "REFERRAL_USER_TOKEN_KEY_ID",
        "REFERRAL_USER_TOKEN_PREVIOUS_KEYS",
        "REFERRAL_WEBHOOK_SECRET_HEX",
        "PORT",
        "PUBLIC_URL",
    ] {
        c.env_remove(name);
    }
    c
}

fn create_api_key(data: &Path, url: &str) -> String {
    let out = command(data, url)
        .args(["create-api-key", "--name", "multiprocess"])
        .output()
        .expect("create-api-key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn start(data: &Path, url: &str, n: usize) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = data.join(format!("server-{n}.log"));
    let child = command(data, url)
        .arg("serve")
        .args(["--port", &port.to_string(), "--public-url", PUBLIC_URL])
        .env("RATE_PER_MINUTE", "1000000")
        .env("RATE_API_PER_MINUTE", "1000000")
        .env("RATE_EVENTS_PER_MINUTE", "1000000")
        .env("RATE_AUTH_PER_MINUTE", "1000")
        .env("MAX_CONNECTIONS_PER_CLIENT", "100000")
        .env("REFERRAL_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("REFERRAL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("referral-server starts");
    let mut process = Process { child, port, log };
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return process;
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!(
                "server {n} exited ({status}): {}",
                std::fs::read_to_string(&process.log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("server {n} did not listen"); // dropped: killed
}

// ---------------------------------------------------------------------
// A small HTTP/1.1 client (one connection a request).

#[derive(Clone, Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Value,
    text: String,
}

fn parse_response(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).into_owned();
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        return Resp {
            status: 0,
            head: String::new(),
            body: Value::Null,
            text,
        };
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        let mut body = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || tail.len() < size {
                break;
            }
            body.push_str(&tail[..size]);
            rest = tail[size..].trim_start_matches("\r\n");
        }
        body
    } else {
        rest.to_owned()
    };
    Resp {
        status,
        head: head.to_owned(),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text: body,
    }
}

async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<String>,
) -> Resp {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let body = body.unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        stream.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    match tokio::time::timeout(Duration::from_secs(60), exchange).await {
        Ok(Ok(raw)) => parse_response(&raw),
        Ok(Err(e)) => Resp {
            status: 0,
            head: String::new(),
            body: Value::Null,
            text: format!("connection: {e}"),
        },
        Err(_) => Resp {
            status: 0,
            head: String::new(),
            body: Value::Null,
            text: "no answer in 60 s".into(),
        },
    }
}

// ---------------------------------------------------------------------
// The clients: round-robin over the processes, every answer recorded.

struct Secrets {
    webhook: Vec<u8>,
    user_tokens: Keyring,
}

fn read_secrets(data: &Path) -> Secrets {
    let text = std::fs::read_to_string(data.join("secrets.json")).expect("secrets.json");
    let file: Value = serde_json::from_str(&text).unwrap();
    let hex_of = |name: &str| hex::decode(file[name].as_str().unwrap()).unwrap();
    Secrets {
        webhook: hex_of("REFERRAL_WEBHOOK_SECRET_HEX"),
        user_tokens: Keyring::new(1, &hex_of("REFERRAL_USER_TOKEN_KEY_HEX")).unwrap(),
    }
}

struct Clients {
    ports: Mutex<Vec<u16>>,
    next: AtomicUsize,
    api_key: String,
    secrets: Secrets,
    /// (what, status, answer) of every request.
    answers: Mutex<Vec<(String, u16, String)>>,
}

impl Clients {
    /// The next process, round-robin.
    fn port(&self) -> u16 {
        let ports = self.ports.lock().unwrap();
        ports[self.next.fetch_add(1, Ordering::Relaxed) % ports.len()]
    }
    /// Two different processes (the next two).
    fn two_ports(&self) -> (u16, u16) {
        let ports = self.ports.lock().unwrap();
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (ports[n % ports.len()], ports[(n + 1) % ports.len()])
    }

    async fn send(
        &self,
        port: u16,
        what: &str,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> Resp {
        let resp = request(port, method, path, headers, body).await;
        self.answers
            .lock()
            .unwrap()
            .push((what.to_owned(), resp.status, resp.text.clone()));
        resp
    }

    fn api(&self) -> (&'static str, String) {
        ("Authorization", format!("Bearer {}", self.api_key))
    }

    fn user_token(&self, user: &str) -> String {
        self.secrets
            .user_tokens
            .mint_user_token(
                &UserTokenRequest {
                    subject: user.to_owned(),
                    audience: PUBLIC_URL.to_owned(),
                    ttl_secs: 3600,
                },
                Clock::real_now(),
            )
            .unwrap()
    }

    async fn register(&self, user: &str) -> Resp {
        let body = json!({ "email": format!("{user}@{user}.example"), "display_name": user, "share_name": true });
        self.send(
            self.port(),
            "register",
            "PUT",
            &format!("/api/v1/users/{user}"),
            &[self.api()],
            Some(body.to_string()),
        )
        .await
    }

    async fn codes(&self, user: &str) -> Value {
        let resp = self
            .send(
                self.port(),
                "codes",
                "GET",
                &format!("/api/v1/users/{user}/referral"),
                &[self.api()],
                None,
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        resp.body
    }

    async fn signup(&self, body: &Value, idempotency: Option<&str>) -> Resp {
        let mut headers = vec![self.api()];
        if let Some(key) = idempotency {
            headers.push(("Idempotency-Key", key.to_owned()));
        }
        self.send(
            self.port(),
            "signup",
            "POST",
            "/api/v1/signups",
            &headers,
            Some(body.to_string()),
        )
        .await
    }

    async fn webhook_to(&self, port: u16, event: &Value) -> Resp {
        use hmac::{Hmac, Mac};
        let body = event.to_string();
        let t = Clock::real_now();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secrets.webhook).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        self.send(
            port,
            "webhook",
            "POST",
            "/api/v1/webhooks/billing",
            &[("Referral-Signature", signature)],
            Some(body),
        )
        .await
    }

    async fn events_to(&self, port: u16, user: &str, events: &Value) -> Resp {
        self.send(
            port,
            "events",
            "POST",
            "/api/v1/me/events",
            &[
                ("Authorization", format!("Bearer {}", self.user_token(user))),
                ("Origin", PUBLIC_URL.to_owned()),
            ],
            Some(json!({ "events": events }).to_string()),
        )
        .await
    }
}

// ---------------------------------------------------------------------
// The workload and what the clients saw.

/// A friend's script: how its billing goes.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// One payment.
    Pay,
    /// One payment, delivered to two processes at once.
    PayTwiceAtOnce,
    /// Two payments.
    PayPay,
    /// A payment, then a refund.
    PayRefund,
    /// A payment delivered twice at once, then a cancellation.
    PayTwiceCancel,
    /// Nothing billed.
    Unpaid,
    /// A payment that arrives (and is kept) before the signup is reported.
    PayBeforeSignup,
}

const PLANS: [Plan; 7] = [
    Plan::Pay,
    Plan::PayTwiceAtOnce,
    Plan::PayPay,
    Plan::PayRefund,
    Plan::PayTwiceCancel,
    Plan::Unpaid,
    Plan::PayBeforeSignup,
];

/// What the clients know of one signed-up account.
#[derive(Clone, Debug)]
struct Account {
    user: String,
    /// (referral id, referrer, review) when attributed.
    attributed: Option<(String, String, bool)>,
    /// Billing events core accepted, in the order they were sent, with the
    /// outcome(s) answered (two for a delivery sent twice at once).
    billing: Vec<(Value, Vec<String>)>,
}

fn payment(id: &str, account: &str) -> Value {
    json!({ "id": id, "type": "payment", "account_id": account, "amount_minor": 4_900, "currency": "USD" })
}

/// The core event the service makes of a billing event (webhooks.rs).
fn ledger_event(billing: &Value, referral_id: &str, at: u64) -> LedgerEvent {
    let event_id = billing["id"].as_str().unwrap().to_owned();
    let referral_id = referral_id.to_owned();
    let reversal = |reason| LedgerEvent::Reversal {
        event_id: event_id.clone(),
        referral_id: referral_id.clone(),
        at,
        reason,
    };
    match billing["type"].as_str().unwrap() {
        "refund" => reversal(ReversalReason::Refund),
        "cancellation" => reversal(ReversalReason::Churn),
        _ => {
            let amount = billing["amount_minor"].as_i64().unwrap();
            LedgerEvent::Payment {
                event_id,
                referral_id,
                at,
                amount: Money::new(amount, "USD"),
                acv: Some(Money::new(amount * 12, "USD")),
            }
        }
    }
}

/// One friend: billing before the signup (if planned), the signup with
/// its referrer's code (or none), then its billing, each event answered
/// before the next is sent.
async fn friend(clients: Arc<Clients>, user: String, code: Option<String>, plan: Plan) -> Account {
    let mut account = Account {
        user: user.clone(),
        attributed: None,
        billing: Vec::new(),
    };
    let early = payment(&format!("{user}-early"), &user);
    if matches!(plan, Plan::PayBeforeSignup) {
        let resp = clients.webhook_to(clients.port(), &early).await;
        assert_eq!(
            (resp.status, resp.body["outcome"].as_str()),
            (200, Some("pending")),
            "{user}: {}",
            resp.text
        );
    }
    let mut body = json!({ "user_id": user, "email": format!("{user}@{user}.example") });
    if let Some(code) = &code {
        body["code"] = json!(code);
    }
    // Half of the signups carry an Idempotency-Key.
    let idempotency = user
        .len()
        .is_multiple_of(2)
        .then(|| format!("signup-{user}"));
    let resp = clients.signup(&body, idempotency.as_deref()).await;
    assert_eq!(resp.status, 200, "signup {user}: {}", resp.text);
    let reason = resp.body["reason"].as_str().unwrap_or_default();
    if code.is_some() {
        assert!(reason.starts_with("attributed"), "{user}: {}", resp.text);
        account.attributed = Some((
            resp.body["referral_id"].as_str().unwrap().to_owned(),
            resp.body["attribution"]["referrer_account"]
                .as_str()
                .unwrap()
                .to_owned(),
            resp.body["attribution"]["review"].as_bool().unwrap(),
        ));
    } else {
        assert_eq!(reason, "no_referral", "{user}: {}", resp.text);
    }
    if matches!(plan, Plan::PayBeforeSignup) && account.attributed.is_some() {
        // Kept before the signup, applied by it.
        account.billing.push((early, vec!["(at signup)".into()]));
    }
    let once = |event: Value| async {
        let resp = clients.webhook_to(clients.port(), &event).await;
        (event, vec![resp])
    };
    let twice_at_once = |event: Value| async {
        let (a, b) = clients.two_ports();
        let (first, second) =
            tokio::join!(clients.webhook_to(a, &event), clients.webhook_to(b, &event));
        (event, vec![first, second])
    };
    let first = payment(&format!("{user}-p1"), &user);
    let sent = match plan {
        Plan::Pay => vec![once(first).await],
        Plan::PayTwiceAtOnce => vec![twice_at_once(first).await],
        Plan::PayPay => vec![
            once(first).await,
            once(payment(&format!("{user}-p2"), &user)).await,
        ],
        Plan::PayRefund => vec![
            once(first).await,
            once(json!({ "id": format!("{user}-r"), "type": "refund", "account_id": user })).await,
        ],
        Plan::PayTwiceCancel => vec![
            twice_at_once(first).await,
            once(json!({ "id": format!("{user}-c"), "type": "cancellation", "account_id": user }))
                .await,
        ],
        Plan::Unpaid | Plan::PayBeforeSignup => vec![],
    };
    for (event, answers) in sent {
        for resp in &answers {
            assert_eq!(resp.status, 200, "webhook {event}: {}", resp.text);
            if account.attributed.is_none() {
                assert_eq!(resp.body["outcome"], "not_referred", "{}", resp.text);
            }
        }
        let outcomes = answers
            .iter()
            .map(|r| r.body["outcome"].as_str().unwrap_or_default().to_owned())
            .collect();
        if account.attributed.is_some() {
            account.billing.push((event, outcomes));
        }
    }
    account
}

/// A referrer's widget: `batches` batches of 10 events (impressions and
/// shares with channels and moments), every third one sent to two
/// processes at once. (accepted, duplicates) summed over the answers.
async fn widget(
    clients: Arc<Clients>,
    user: String,
    phase: &'static str,
    batches: usize,
) -> (u64, u64) {
    let (mut accepted, mut duplicates) = (0, 0);
    let at = Clock::real_now();
    for b in 0..batches {
        let events: Vec<Value> = (0..10)
            .map(|i| {
                let id = format!("{phase}-{b}-{i}");
                match i % 5 {
                    0 | 1 => json!({ "id": id, "type": "impression", "at": at, "moment": "milestone" }),
                    2 => json!({ "id": id, "type": "share", "at": at, "channel": "email", "moment": "milestone" }),
                    3 => json!({ "id": id, "type": "copy", "at": at, "channel": "link" }),
                    _ => json!({ "id": id, "type": "dismiss", "at": at }),
                }
            })
            .collect();
        let events = Value::Array(events);
        let answers = if b % 3 == 0 {
            let (x, y) = clients.two_ports();
            let (first, second) = tokio::join!(
                clients.events_to(x, &user, &events),
                clients.events_to(y, &user, &events)
            );
            vec![first, second]
        } else {
            vec![clients.events_to(clients.port(), &user, &events).await]
        };
        for resp in answers {
            assert_eq!(resp.status, 202, "events {user}: {}", resp.text);
            accepted += resp.body["accepted"].as_u64().unwrap();
            duplicates += resp.body["duplicates"].as_u64().unwrap();
        }
    }
    (accepted, duplicates)
}

/// Runs a phase: `friends` friends per referrer (every 8th without a code)
/// and the referrers' widgets, at most `concurrency` scripts at a time.
async fn phase(
    clients: &Arc<Clients>,
    referrers: &[(String, Value)],
    phase: &'static str,
    friends: usize,
    concurrency: usize,
) -> (Vec<Account>, u64) {
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut scripts = Vec::new();
    let channels = ["email", "whatsapp", "link", "linkedin", "sms"];
    for n in 0..friends {
        for (r, (_, codes)) in referrers.iter().enumerate() {
            let user = format!("{phase}-f{r}-{n}");
            let code = (n % 8 != 7).then(|| {
                codes["codes"][channels[(n + r) % channels.len()]]
                    .as_str()
                    .unwrap()
                    .to_owned()
            });
            let plan = PLANS[(n + r) % PLANS.len()];
            let (gate, clients) = (gate.clone(), clients.clone());
            scripts.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                friend(clients, user, code, plan).await
            }));
        }
    }
    let mut widgets = Vec::new();
    for (referrer, _) in referrers {
        widgets.push(tokio::spawn(widget(
            clients.clone(),
            referrer.clone(),
            phase,
            6,
        )));
    }
    let mut accounts = Vec::new();
    for script in scripts {
        accounts.push(script.await.expect("a friend's script"));
    }
    let mut accepted = 0;
    for w in widgets {
        let (a, d) = w.await.expect("a widget");
        assert_eq!(a + d, 6 * 10 + 2 * 10, "every event answered once per send");
        accepted += a;
    }
    (accounts, accepted)
}

// ---------------------------------------------------------------------
// What the database holds.

/// (entry id, beneficiary, side, status, reversal reason), sorted.
type EntryLine = (String, String, Side, String, Option<String>);

fn lines<'a>(
    entries: impl Iterator<
        Item = (
            &'a referral_core::rewards::Entry,
            referral_core::rewards::EntryStatus,
        ),
    >,
) -> Vec<EntryLine> {
    let mut lines: Vec<EntryLine> = entries
        .map(|(e, status)| {
            (
                e.id.clone(),
                e.beneficiary.clone(),
                e.side,
                format!("{status:?}"),
                e.reversal.as_ref().map(|r| format!("{:?}", r.reason)),
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The servers' logs (warnings and errors: a 5xx's cause), for a failure.
fn print_logs(data: &Path) {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(data)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("--- {} (last 40 lines) ---", log.display());
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("{line}");
        }
    }
}

/// Five referrers; phase A through two processes while a third starts,
/// phase B through all three. The third process is returned (it must
/// outlive the checks).
async fn workload(
    clients: Arc<Clients>,
    data: PathBuf,
    url: String,
) -> (Vec<Account>, u64, Process) {
    // The referrers' codes come from whichever process answers: one
    // signing key, from the shared data directory.
    let mut referrers = Vec::new();
    for r in 0..5 {
        let user = format!("referrer-{r}");
        let resp = clients.register(&user).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        referrers.push((user.clone(), clients.codes(&user).await));
    }
    let third = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(300));
        start(&data, &url, 2)
    });
    let t = Instant::now();
    let (mut accounts, mut widget_events) = phase(&clients, &referrers, "a", 24, 24).await;
    let phase_a = t.elapsed();
    let third = third.await.unwrap();
    clients.ports.lock().unwrap().push(third.port);
    let t = Instant::now();
    let (more, more_events) = phase(&clients, &referrers, "b", 24, 32).await;
    println!(
        "phase A (2 processes, a third starting): {} signups in {phase_a:?}; phase B (3 processes): {} in {:?}",
        accounts.len(),
        more.len(),
        t.elapsed()
    );
    accounts.extend(more);
    widget_events += more_events;
    (accounts, widget_events, third)
}

/// A fresh database, its shared data directory and API key, and `n`
/// processes on them (the first generates the secrets).
async fn cluster(n: usize) -> (DataDir, String, Vec<Process>, Arc<Clients>) {
    let url = common::fresh_database_url().await;
    let data = DataDir(std::env::temp_dir().join(format!("referral-mp-{}", common::unique())));
    std::fs::create_dir_all(&data.0).unwrap();
    let api_key = create_api_key(&data.0, &url);
    let processes: Vec<Process> = (0..n).map(|i| start(&data.0, &url, i)).collect();
    let clients = Arc::new(Clients {
        ports: Mutex::new(processes.iter().map(|p| p.port).collect()),
        next: AtomicUsize::new(0),
        api_key,
        secrets: read_secrets(&data.0),
        answers: Mutex::new(Vec::new()),
    });
    (data, url, processes, clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_processes_on_one_database_keep_one_consistent_ledger() {
    if !postgres() {
        return;
    }
    let started = Instant::now();
    let (data, url, mut processes, clients) = cluster(2).await;
    let outcome = tokio::spawn(workload(clients.clone(), data.0.clone(), url.clone())).await;
    let (accounts, widget_events, third) = match outcome {
        Ok(done) => done,
        Err(e) => {
            print_logs(&data.0);
            std::panic::resume_unwind(e.into_panic());
        }
    };
    processes.push(third);
    let checks = tokio::spawn({
        let clients = clients.clone();
        let url = url.clone();
        async move { check(&clients, &url, &accounts, widget_events).await }
    })
    .await;
    if let Err(e) = checks {
        print_logs(&data.0);
        std::panic::resume_unwind(e.into_panic());
    }
    println!(
        "{} requests through {} processes; {:?} in all",
        clients.answers.lock().unwrap().len(),
        processes.len(),
        started.elapsed()
    );
    drop(processes); // killed and reaped
}

/// Every check, on the database the processes share and through them.
async fn check(clients: &Clients, url: &str, accounts: &[Account], widget_events: u64) {
    // No 5xx, no dropped connection: every answer was the one expected.
    let answers = clients.answers.lock().unwrap().clone();
    let mut tally: BTreeMap<(String, u16), usize> = BTreeMap::new();
    for (what, status, _) in &answers {
        *tally.entry((what.clone(), *status)).or_default() += 1;
    }
    println!("answers: {tally:?}");
    let bad: Vec<&(String, u16, String)> = answers
        .iter()
        .filter(|(what, status, _)| *status != if what == "events" { 202 } else { 200 })
        .collect();
    assert!(bad.is_empty(), "unexpected answers: {bad:?}");

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let program: Program = referral_server::demo_program();
    let now = Clock::real_now();

    // The event log: no id twice, one number each, every event routed to
    // its referral's referrer, every attributed signup with its
    // `attr:<referral id>`, every attribution with its referral.
    let log = sqlx::query("SELECT seq, event_id, referrer, body FROM ledger_events ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    let ids: BTreeSet<String> = log.iter().map(|r| r.get("event_id")).collect();
    let seqs: BTreeSet<i64> = log.iter().map(|r| r.get("seq")).collect();
    assert_eq!(ids.len(), log.len(), "an event id twice in the log");
    assert_eq!(seqs.len(), log.len(), "a sequence number twice in the log");
    let referrals: BTreeMap<String, (String, Option<String>, String)> =
        sqlx::query("SELECT id, friend_account, referrer_account, flags FROM referrals")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get("id"),
                    (
                        r.get("friend_account"),
                        r.get("referrer_account"),
                        r.get("flags"),
                    ),
                )
            })
            .collect();
    for (id, (friend, referrer, _)) in &referrals {
        if referrer.is_some() {
            assert!(
                ids.contains(&format!("attr:{id}")),
                "{friend}'s attribution is not in the log"
            );
        }
    }
    for row in &log {
        let event: LedgerEvent = serde_json::from_str(&row.get::<String, _>("body")).unwrap();
        let routed: Option<String> = row.get("referrer");
        let referral = match &event {
            LedgerEvent::Attributed { referral_id, .. }
            | LedgerEvent::Payment { referral_id, .. }
            | LedgerEvent::Reversal { referral_id, .. }
            | LedgerEvent::Qualified { referral_id, .. }
            | LedgerEvent::Approved { referral_id, .. }
            | LedgerEvent::Adjustment { referral_id, .. } => referral_id,
            LedgerEvent::Paid { .. } => continue,
        };
        let (_, referrer, _) = &referrals[referral];
        assert_eq!(
            &routed,
            referrer,
            "{} routed to the wrong ledger",
            event.event_id()
        );
    }
    let attributed: Vec<&Account> = accounts.iter().filter(|a| a.attributed.is_some()).collect();
    for account in &attributed {
        let (id, referrer, _) = account.attributed.as_ref().unwrap();
        assert_eq!(
            referrals.get(id).map(|r| (&r.0, r.1.as_ref())),
            Some((&account.user, Some(referrer))),
            "{}'s referral",
            account.user
        );
        assert!(ids.contains(&format!("attr:{id}")));
    }
    assert_eq!(
        referrals.values().filter(|r| r.1.is_some()).count(),
        attributed.len(),
        "attributed referrals"
    );
    let pending: i64 = sqlx::query("SELECT COUNT(*) AS n FROM pending_billing_events")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("n");
    assert_eq!(pending, 0, "billing kept before a signup was never applied");

    // The recount of the whole log equals the per-referrer ledgers, and
    // the ledgers hold each logged event once.
    let mut conn = pool.acquire().await.unwrap();
    let recount = ledger::recount(&mut conn, &program).await.unwrap();
    drop(conn);
    let stored: BTreeMap<String, Ledger> =
        sqlx::query("SELECT referrer, ledger FROM referrer_ledgers")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let text: String = r.get("ledger");
                (r.get("referrer"), serde_json::from_str(&text).unwrap())
            })
            .collect();
    for (referrer, l) in &stored {
        assert_eq!(
            Some(l),
            recount.ledger(referrer).or(l.is_empty().then_some(l)),
            "{referrer}'s stored ledger is not the recount's"
        );
    }
    for (referrer, _) in recount.ledgers() {
        assert!(
            stored.contains_key(referrer),
            "{referrer} has no stored ledger"
        );
    }
    let applied: usize = stored.values().map(|l| l.applied_event_ids.len()).sum();
    let applied_ids: BTreeSet<&String> =
        stored.values().flat_map(|l| &l.applied_event_ids).collect();
    assert_eq!(
        applied,
        applied_ids.len(),
        "an event applied to two ledgers"
    );
    assert_eq!(
        applied_ids,
        ids.iter().collect(),
        "ledgers and log disagree"
    );
    let union = lines(
        stored
            .values()
            .flat_map(|l| l.entries.iter().map(move |e| (e, l.status(e, now)))),
    );
    assert_eq!(
        union,
        lines(recount.entries(now)),
        "entries differ from the recount"
    );
    let entry_ids: BTreeSet<&String> = union.iter().map(|l| &l.0).collect();
    assert_eq!(entry_ids.len(), union.len(), "a reward created twice");
    let routes: BTreeMap<String, String> = sqlx::query("SELECT id, referrer FROM ledger_entries")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("referrer")))
        .collect();
    let held: BTreeMap<String, String> = stored
        .iter()
        .flat_map(|(r, l)| l.entries.iter().map(|e| (e.id.clone(), r.clone())))
        .collect();
    assert_eq!(routes, held, "ledger_entries does not route as stored");

    // None lost, none twice: core's ProgramLedger over what the clients
    // saw accepted (each account's events in the order sent) gives every
    // answer and the same entries.
    let mut model = ProgramLedger::new();
    for account in &attributed {
        let (referral_id, referrer, review) = account.attributed.clone().unwrap();
        model
            .apply(
                &program,
                &LedgerEvent::Attributed {
                    event_id: format!("attr:{referral_id}"),
                    referral_id: referral_id.clone(),
                    referrer_account: referrer,
                    friend_account: account.user.clone(),
                    review,
                    at: now,
                },
            )
            .unwrap();
        for (billing, answered) in &account.billing {
            let outcome = model
                .apply(&program, &ledger_event(billing, &referral_id, now))
                .unwrap()
                .code()
                .to_owned();
            let mut answered = answered.clone();
            answered.sort();
            let expected = match answered.len() {
                _ if answered == ["(at signup)"] => answered.clone(),
                1 => vec![outcome],
                _ => {
                    let mut both = vec![outcome, "duplicate".to_owned()];
                    both.sort();
                    both
                }
            };
            assert_eq!(answered, expected, "{}: {billing}", account.user);
        }
    }
    assert_eq!(
        union,
        lines(model.entries(now)),
        "entries differ from the clients' view"
    );
    let paid = attributed
        .iter()
        .filter(|a| a.billing.iter().any(|(b, _)| b["type"] == "payment"))
        .count();
    let referrer_entries = union.iter().filter(|l| l.2 == Side::Referrer).count();
    assert_eq!(
        referrer_entries, paid,
        "one referrer reward per paying referral (no cap)"
    );

    // The velocity rule read each referrer's ledger under its lock: replayed
    // in log order, every attribution saw every reward before it.
    let mut flagged = 0;
    for referrer in stored.keys() {
        let mut replay = Ledger::new();
        for row in sqlx::query("SELECT body FROM ledger_events WHERE referrer = $1 ORDER BY seq")
            .bind(referrer)
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let event: LedgerEvent = serde_json::from_str(&row.get::<String, _>("body")).unwrap();
            if let LedgerEvent::Attributed {
                referral_id,
                review,
                at,
                ..
            } = &event
            {
                let seen = replay.rewards_this_month(referrer, *at);
                let flags: Vec<FraudFlag> =
                    serde_json::from_str(&referrals[referral_id].2).unwrap();
                let velocity = flags.iter().find_map(|f| match f {
                    FraudFlag::Velocity {
                        rewards_this_month, ..
                    } => Some(*rewards_this_month),
                    _ => None,
                });
                let over = seen >= 10;
                assert_eq!(
                    (velocity, *review),
                    (over.then_some(seen), over),
                    "{referral_id} of {referrer}: the velocity check saw another count than the log's {seen}"
                );
                flagged += usize::from(over);
            }
            replay.apply(&program, &event).unwrap();
        }
    }
    assert!(
        flagged > 0,
        "the velocity rule never fired: the check is vacuous"
    );

    // The funnel's counters (read through one of the processes) equal the
    // recount and the raw rows.
    let counts: BTreeMap<String, i64> =
        sqlx::query("SELECT type, COUNT(*) AS n FROM events GROUP BY type")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("type"), r.get("n")))
            .collect();
    assert_eq!(
        counts.values().sum::<i64>() as u64,
        widget_events,
        "events accepted vs stored"
    );
    let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("n");
    pool.close().await;
    let mut want: BTreeMap<Stage, u64> = BTreeMap::new();
    want.insert(
        Stage::Impression,
        counts.get("impression").copied().unwrap_or(0) as u64,
    );
    want.insert(
        Stage::Share,
        (counts.get("share").copied().unwrap_or(0) + counts.get("copy").copied().unwrap_or(0))
            as u64,
    );
    want.insert(Stage::Signup, attributed.len() as u64);
    let recount_paid = recount
        .ledgers()
        .flat_map(|(_, l)| l.referrals.values())
        .filter(|r| r.payments > 0)
        .count();
    assert_eq!(recount_paid, paid);
    want.insert(Stage::Paid, recount_paid as u64);
    want.insert(
        Stage::Reward,
        recount
            .entries(now)
            .filter(|(e, _)| e.side == Side::Referrer && e.reversal.is_none())
            .count() as u64,
    );
    let port = clients.port();
    let sign_in = clients
        .send(
            port,
            "admin",
            "POST",
            "/api/admin/session",
            &[],
            Some(json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }).to_string()),
        )
        .await;
    assert_eq!(sign_in.status, 200, "{}", sign_in.text);
    let cookie = sign_in
        .head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap().to_owned())
        })
        .expect("a session cookie");
    let funnel = clients
        .send(
            clients.port(),
            "admin",
            "GET",
            "/api/admin/funnel",
            &[("Cookie", cookie)],
            None,
        )
        .await;
    assert_eq!(funnel.status, 200, "{}", funnel.text);
    let report = &funnel.body["funnel"];
    for (stage, n) in &want {
        let name = serde_json::to_value(stage).unwrap();
        let got = report["total"]["counts"][name.as_str().unwrap()]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(got, *n, "funnel total {stage:?}");
    }
    assert_eq!(report["active_customers"], users, "active customers");
    // Every referrer shared and brought signups; no friend did.
    assert_eq!(report["referring_customers"], 5, "referring customers");
    println!(
        "{} accounts ({} attributed, {paid} paid, {flagged} flagged by velocity), {} ledger events, {} entries",
        accounts.len(),
        attributed.len(),
        log.len(),
        union.len()
    );
}

/// A friend's first payment sent at the same moment as the friend's
/// signup, to another process: whichever commits first, the payment is
/// applied (at once, or kept as pending and applied by the signup), never
/// kept forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn billing_that_races_its_signup_is_never_left_pending() {
    if !postgres() {
        return;
    }
    let (data, url, processes, clients) = cluster(2).await;
    let (a, b) = (processes[0].port, processes[1].port);
    let resp = clients.register("referrer").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let code = clients.codes("referrer").await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    // One race at a time (so no signup queues behind another on the
    // referrer's lock), the payment sent 0 to 19 ms after the signup.
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..100u64 {
        let user = format!("racer-{n}");
        let body =
            json!({ "user_id": user, "email": format!("{user}@{user}.example"), "code": code });
        let pay = payment(&format!("{user}-p1"), &user);
        let ports = if n % 2 == 0 { (a, b) } else { (b, a) };
        let headers = [clients.api()];
        let signup = clients.send(
            ports.0,
            "signup",
            "POST",
            "/api/v1/signups",
            &headers,
            Some(body.to_string()),
        );
        let webhook = async {
            tokio::time::sleep(Duration::from_millis(n % 20)).await;
            clients.webhook_to(ports.1, &pay).await
        };
        let (signup, webhook) = tokio::join!(signup, webhook);
        if signup.status != 200 || webhook.status != 200 {
            print_logs(&data.0);
        }
        assert_eq!(signup.status, 200, "{}", signup.text);
        assert_eq!(webhook.status, 200, "{}", webhook.text);
        *outcomes
            .entry(
                webhook.body["outcome"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .or_default() += 1;
    }
    println!("webhook answers: {outcomes:?}");
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let stranded: Vec<String> = sqlx::query(
        "SELECT p.event_id FROM pending_billing_events p JOIN referrals r ON r.friend_account = p.account_id ORDER BY p.event_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("event_id"))
    .collect();
    let unpaid: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM referrals r WHERE NOT EXISTS (SELECT 1 FROM ledger_events l WHERE l.event_id = r.friend_account || '-p1')",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get("n");
    pool.close().await;
    // A lost payment shows as one of: kept pending for good (stored after
    // the signup took the pending ones), answered `not_referred` (the
    // referral was not visible yet, the signup was), or gone without a
    // trace (stored between the signup's read and its delete).
    let not_referred = outcomes.get("not_referred").copied().unwrap_or(0);
    assert!(
        stranded.is_empty() && unpaid == 0,
        "{unpaid} of 100 referred payments never applied: {} kept pending for good {stranded:?}, {not_referred} answered not_referred, {} vanished",
        stranded.len(),
        unpaid as usize - stranded.len() - not_referred
    );
    drop(processes);
}

/// A person's registration (`PUT /api/v1/users/{id}`) and their first
/// share sent at the same moment to two processes: whichever commits
/// first, they are counted once as a referring customer (each side reads
/// the other's row; without the account lock both missed it under READ
/// COMMITTED: 105–143 of 150 counted in the audit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_racing_the_first_share_counts_the_person_once() {
    if !postgres() {
        return;
    }
    let (_data, url, processes, clients) = cluster(2).await;
    let (a, b) = (processes[0].port, processes[1].port);
    let people = 60u64;
    let mut races = Vec::new();
    for n in 0..people {
        let clients = clients.clone();
        races.push(tokio::spawn(async move {
            let user = format!("sharer-{n}");
            let ports = if n % 2 == 0 { (a, b) } else { (b, a) };
            let body = json!({ "email": format!("{user}@{user}.example") });
            let headers = [clients.api()];
            let path = format!("/api/v1/users/{user}");
            let register = clients.send(
                ports.0,
                "register",
                "PUT",
                &path,
                &headers,
                Some(body.to_string()),
            );
            let events = json!([{ "id": "s1", "type": "share", "channel": "email", "at": 1 }]);
            let share = clients.events_to(ports.1, &user, &events);
            let (register, share) = tokio::join!(register, share);
            assert_eq!(register.status, 200, "{}", register.text);
            assert_eq!(share.status, 202, "{}", share.text);
        }));
    }
    for race in races {
        race.await.unwrap();
    }
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let counted: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) AS n FROM counters WHERE name = 'referring_customers'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get("n");
    let customers: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) AS n FROM counters WHERE name = 'customers'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get("n");
    pool.close().await;
    assert_eq!(customers, people as i64);
    assert_eq!(counted, people as i64, "every sharer counted once");
}
