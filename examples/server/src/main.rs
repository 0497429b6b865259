//! `referral-server`: the reference referral service.
//!
//! `referral-server [serve]` serves; `create-admin`, `create-api-key` and
//! `revoke-api-key` manage access. Every setting is a flag or an
//! environment variable (`referral-server serve --help`).

use clap::Parser;
use referral_server::config::{Cli, Command, Common, ServeArgs};
use referral_server::{app, auth, demo, server, AppState, Clock, Db, Secrets, Settings};
use tracing_subscriber::EnvFilter;

fn now() -> u64 {
    Clock::default().now()
}

async fn open(common: &Common) -> Result<Db, String> {
    std::fs::create_dir_all(&common.data_dir)
        .map_err(|e| format!("{}: {e}", common.data_dir.display()))?;
    Db::connect(&common.database_url())
        .await
        .map_err(|e| format!("database: {e}"))
}

fn read_password() -> Result<String, String> {
    if let Ok(p) = std::env::var("REFERRAL_ADMIN_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn create_admin(db: &Db, email: &str, password: &str) -> Result<(), String> {
    let email = email.trim().to_ascii_lowercase();
    referral_core::fraud::email_domain(&email).map_err(|e| format!("email: {e}"))?;
    auth::check_new_password(password).map_err(|e| e.message)?;
    let hash = auth::hash_password(password).map_err(|e| e.message)?;
    let mut conn = db.pool.acquire().await.map_err(|e| e.to_string())?;
    referral_server::store::access::insert_admin(&mut conn, &email, &hash, now())
        .await
        .map_err(|e| match referral_server::error::unique_violation(&e) {
            Some(_) => format!("an admin {email} exists already"),
            None => e.to_string(),
        })
}

async fn serve(common: &Common, args: &ServeArgs) -> Result<(), String> {
    let secrets = Secrets::load(&{
        std::fs::create_dir_all(&common.data_dir).map_err(|e| e.to_string())?;
        common.data_dir.clone()
    })?;
    let mut settings = Settings::new(args, &secrets)?;
    let db = open(common).await?;
    // A database from before per-referrer ledgers: counters and ledgers
    // from its rows, once.
    referral_server::store::aggregates::upgrade(&db, &settings.program, &settings.nudge)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let mut conn = db.pool.acquire().await.map_err(|e| e.to_string())?;
    let admins = referral_server::store::access::admin_count(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    drop(conn);
    // The first admin: from the environment, or (demo only) generated.
    if admins == 0 {
        if let (Ok(email), Ok(password)) = (
            std::env::var("REFERRAL_ADMIN_EMAIL"),
            std::env::var("REFERRAL_ADMIN_PASSWORD"),
        ) {
            create_admin(&db, &email, &password).await?;
            println!("created admin {email}");
        } else if args.demo {
            let password = hex::encode(referral_server::store::random_bytes::<12>());
            create_admin(&db, "admin@acme.example", &password).await?;
            let path = common.data_dir.join("demo-admin.txt");
            referral_server::settings::write_private(
                &path,
                &format!("admin@acme.example {password}\n"),
            )?;
            println!(
                "demo admin: admin@acme.example / {password} (also in {})",
                path.display()
            );
        } else {
            println!("no admin yet: run `referral-server create-admin --email …` or set REFERRAL_ADMIN_EMAIL and REFERRAL_ADMIN_PASSWORD");
        }
    }
    if args.demo {
        settings.demo_api_key = Some(
            demo::provision_api_key(&db, now())
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    if args.demo {
        // The demo host subscribes to its own service's webhooks on
        // loopback (demo mode allows private webhook URLs).
        let ip = match args.bind {
            ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
            ip => ip,
        };
        let base = format!("http://{}", std::net::SocketAddr::new(ip, args.port));
        demo::subscribe_outbound(&db, &base, now())
            .await
            .map_err(|e| format!("database: {e}"))?;
    }
    let public_url = settings.public_url.clone();
    let state = AppState::new(db.clone(), settings, Clock::default());
    // Outbound webhooks: the delivery worker and the payable scan.
    referral_server::outbound::start(state.clone());
    let listener = tokio::net::TcpListener::bind(args.address())
        .await
        .map_err(|e| format!("{}: {e}", args.address()))?;
    println!(
        "referral-server on http://{} ({}, public URL {public_url}{})",
        args.address(),
        match db.backend {
            referral_server::store::Backend::Sqlite => "SQLite",
            referral_server::store::Backend::Postgres => "PostgreSQL",
        },
        if args.demo { ", demo mode" } else { "" }
    );
    server::serve(
        listener,
        app(state),
        server::Limits {
            header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
            max_connections: args.max_connections,
            max_connections_per_client: args.max_connections_per_client,
            trusted_proxies: args.trusted_proxies.clone(),
            drain: std::time::Duration::from_secs(args.request_timeout_secs),
        },
        server::shutdown_signal(),
    )
    .await
    .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(&cli.common, &ServeArgs::parse_from(["serve"])).await,
        Some(Command::Serve(args)) => serve(&cli.common, &args).await,
        Some(Command::CreateAdmin { email }) => {
            let db = open(&cli.common).await?;
            create_admin(&db, &email, &read_password()?).await?;
            println!("created admin {email}");
            Ok(())
        }
        Some(Command::CreateApiKey { name }) => {
            let db = open(&cli.common).await?;
            let state = AppState::new(
                db,
                Settings::new(&ServeArgs::parse_from(["serve"]), &Secrets::random())?,
                Clock::default(),
            );
            let created = referral_server::routes::admin::create_api_key(&state, &name)
                .await
                .map_err(|e| e.message)?;
            println!("{}", created.key);
            eprintln!(
                "API key {} ({}) created; it is shown only this once",
                created.id, created.name
            );
            Ok(())
        }
        Some(Command::MintUserToken {
            subject,
            audience,
            ttl_secs,
        }) => {
            let keys = Secrets::load(&cli.common.data_dir)?.user_token_keyring()?;
            let request = referral_core::UserTokenRequest {
                subject,
                audience: audience.trim_end_matches('/').to_owned(),
                ttl_secs,
            };
            println!(
                "{}",
                keys.mint_user_token(&request, now())
                    .map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Some(Command::RevokeApiKey { id }) => {
            let db = open(&cli.common).await?;
            let mut conn = db.pool.acquire().await.map_err(|e| e.to_string())?;
            let id = id
                .trim_start_matches("rk_")
                .split('_')
                .next()
                .unwrap_or_default()
                .to_owned();
            if referral_server::store::access::revoke_api_key(&mut conn, &id, now())
                .await
                .map_err(|e| e.to_string())?
            {
                println!("revoked {id}");
                Ok(())
            } else {
                Err(format!("no live API key {id}"))
            }
        }
    }
}
