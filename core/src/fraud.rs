//! Fraud signals. Pure functions over what the host knows; each signal is a
//! flag with a reason that sends a referral to review — the host decides,
//! nothing is silently dropped. No fingerprinting: the only network signal
//! is an optional *hashed* network prefix the host computes itself.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One reason to look at a referral before rewarding it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum FraudFlag {
    /// Referrer and friend share a company email domain (not a free
    /// mailbox provider), in a program that does not allow it.
    SameCompanyDomain { domain: String },
    /// The friend signed up with a disposable email domain.
    DisposableEmail { domain: String },
    /// The friend's normalised email matches an existing account.
    DuplicatePerson {
        normalized_email: String,
        existing_account: String,
    },
    /// The friend had referred the referrer: A → B → A.
    ReferralRing { other_account: String },
    /// The referrer passed the program's rewards-per-month limit.
    Velocity { rewards_this_month: u32, limit: u32 },
    /// Referrer and friend came from the same (hashed) network prefix.
    SharedNetworkPrefix,
}

impl FraudFlag {
    pub fn code(&self) -> &'static str {
        match self {
            FraudFlag::SameCompanyDomain { .. } => "same_company_domain",
            FraudFlag::DisposableEmail { .. } => "disposable_email",
            FraudFlag::DuplicatePerson { .. } => "duplicate_person",
            FraudFlag::ReferralRing { .. } => "referral_ring",
            FraudFlag::Velocity { .. } => "velocity",
            FraudFlag::SharedNetworkPrefix => "shared_network_prefix",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("not an email address: {0:?}")]
    Invalid(String),
}

impl EmailError {
    pub fn reason(&self) -> &'static str {
        "invalid_email"
    }
}

/// Providers that ignore dots in the local part.
const DOT_INSENSITIVE: [&str; 2] = ["gmail.com", "googlemail.com"];

/// Free mailbox providers: a shared domain there says nothing about a
/// shared company.
const FREE_PROVIDERS: [&str; 16] = [
    "aol.com",
    "fastmail.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "googlemail.com",
    "hey.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.com",
    "me.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "yahoo.com",
];

/// The lower-cased domain of an email address.
pub fn email_domain(email: &str) -> Result<String, EmailError> {
    let (_, domain) = split_email(email)?;
    Ok(domain)
}

fn split_email(email: &str) -> Result<(String, String), EmailError> {
    let email = email.trim();
    let invalid = || EmailError::Invalid(email.chars().take(64).collect());
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if local.is_empty()
        || domain.is_empty()
        || !domain.contains('.')
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
        || domain.starts_with('.')
        || domain.contains("..")
    {
        return Err(invalid());
    }
    Ok((local.to_owned(), domain))
}

/// The address one person reaches under every spelling: lower case,
/// `+tag` removed, dots removed where the provider ignores them, and
/// `googlemail.com` as `gmail.com`.
pub fn normalize_email(email: &str) -> Result<String, EmailError> {
    let (local, domain) = split_email(email)?;
    let mut local = local.to_lowercase();
    if let Some(plus) = local.find('+') {
        local.truncate(plus);
    }
    let domain = if domain == "googlemail.com" {
        "gmail.com".to_owned()
    } else {
        domain
    };
    if DOT_INSENSITIVE.contains(&domain.as_str()) {
        local.retain(|c| c != '.');
    }
    if local.is_empty() {
        return Err(EmailError::Invalid(email.chars().take(64).collect()));
    }
    Ok(format!("{local}@{domain}"))
}

pub fn is_free_provider(domain: &str) -> bool {
    FREE_PROVIDERS.contains(&domain.to_ascii_lowercase().as_str())
}

fn list(text: &'static str) -> Vec<&'static str> {
    // The files are written sorted by `cargo xtask disposable-domains`.
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn disposable_exact() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| list(include_str!("../data/disposable_domains.txt")))
}

fn disposable_wildcards() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| list(include_str!("../data/disposable_wildcards.txt")))
}

/// How many domains the shipped lists hold (exact, wildcard).
pub fn disposable_list_sizes() -> (usize, usize) {
    (disposable_exact().len(), disposable_wildcards().len())
}

/// True for a disposable domain or any subdomain of one
/// (`mailinator.com`, `x.mailinator.com`).
pub fn is_disposable_domain(domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let exact = disposable_exact();
    let wildcard = disposable_wildcards();
    let mut candidate = domain.as_str();
    loop {
        if exact.binary_search(&candidate).is_ok() || wildcard.binary_search(&candidate).is_ok() {
            return true;
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_emails() {
        assert_eq!(
            normalize_email(" Anna.Lind+promo@GoogleMail.com ").unwrap(),
            "annalind@gmail.com"
        );
        assert_eq!(normalize_email("a.b+x@acme.io").unwrap(), "a.b@acme.io");
        assert_eq!(
            normalize_email("Zoë@Example.ORG").unwrap(),
            "zoë@example.org"
        );
        for bad in [
            "",
            "no-at-sign",
            "@acme.io",
            "a@",
            "a@b",
            "a b@acme.io",
            "+tag@acme.io",
            "a@acme..io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn disposable_list_is_shipped_and_matches_subdomains() {
        let (exact, wildcard) = disposable_list_sizes();
        assert!(exact >= 1000, "{exact}");
        assert!(wildcard > 0);
        assert!(is_disposable_domain("mailinator.com"));
        assert!(is_disposable_domain("MAILINATOR.COM."));
        assert!(is_disposable_domain("inbox.mailinator.com"));
        assert!(!is_disposable_domain("acme.com"));
        assert!(!is_disposable_domain("gmail.com"));
        assert!(!is_disposable_domain(""));
        let sorted = disposable_exact().windows(2).all(|w| w[0] < w[1]);
        assert!(sorted, "the list must stay sorted for binary search");
    }
}
