//! The smallest host: what a backend does with the core crate.
//! Run with `cargo run -p quickstart`.

use std::time::{SystemTime, UNIX_EPOCH};

use referral_core::{
    referral_url, share_action, Channel, Keyring, LinkOptions, MessageVars, MintRequest,
    ReferrerId, ShareAction, ShareMessage, Utm, Verifier, VerifyPolicy,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A real host reads the secret from its secret store (env, file, KMS).
    let secret = std::env::var("REFERRAL_SECRET")
        .unwrap_or_else(|_| "demo-secret-do-not-use-in-production-0123456789".to_owned());
    let verifier = Verifier::new(
        Keyring::new(1, secret.as_bytes())?,
        VerifyPolicy::for_program(7),
    );
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    let mut link_options = LinkOptions::new("https://app.example.com/join");
    link_options.utm = Some(Utm {
        source: "referral".into(),
        campaign: "customer-referrals".into(),
    });
    let message = ShareMessage::default_english();
    let vars = MessageVars {
        referrer_name: "Anna Lindqvist".into(),
        product: "Acme Analytics".into(),
        reward: "We both get a month free.".into(),
        link: String::new(),
    };

    println!("Referral codes and share targets for user 1042 in program 7:\n");
    for channel in Channel::ALL {
        let request = MintRequest {
            program_id: 7,
            referrer: ReferrerId::Numeric(1042),
            channel,
            campaign: None,
        };
        let code = verifier.mint(&request, now)?;
        let link = referral_url(&link_options, code.as_str(), channel)?;
        let target = match share_action(channel, &link, &message, &vars) {
            ShareAction::Copy { text } => format!("copy  {text}"),
            ShareAction::Open { url } => format!("open  {url}"),
            ShareAction::NativeShare { title, text, url } => {
                format!("share title={title:?} text={text:?} url={url}")
            }
        };
        println!(
            "{:>12}  code {code} ({} chars)\n{:>12}  {target}\n",
            channel.as_str(),
            code.as_str().len(),
            ""
        );
        let verified = verifier.verify(code.as_str(), now + 5)?;
        assert_eq!(verified.claims().channel, channel);
    }

    let code = verifier.mint(
        &MintRequest {
            program_id: 7,
            referrer: ReferrerId::Numeric(1042),
            channel: Channel::Link,
            campaign: None,
        },
        now,
    )?;
    println!(
        "verify({code}) -> {:?}",
        verifier.verify(code.as_str(), now + 60)?.claims()
    );
    let mut tampered = code.as_str().to_owned();
    let last = tampered
        .pop()
        .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
    tampered.push(last);
    match verifier.verify(&tampered, now + 60) {
        Err(error) => println!(
            "verify({tampered}) -> refused: {} ({error})",
            error.reason()
        ),
        Ok(_) => return Err("a tampered code verified".into()),
    }
    let expired_at = now + VerifyPolicy::for_program(7).max_age_secs;
    match verifier.verify(code.as_str(), expired_at) {
        Err(error) => println!("verify({code}) a year later -> refused: {}", error.reason()),
        Ok(_) => return Err("an expired code verified".into()),
    }
    Ok(())
}
