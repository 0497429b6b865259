//! Attribution edges and every fraud flag.
#![allow(clippy::unwrap_used)]

use referral_core::attribution::{
    attribute, Attribution, AttributionPolicy, CaptureMethod, CapturedReferral, KnownPeople,
    ReferrerInfo, Signup, Touch,
};
use referral_core::fraud::FraudFlag;
use referral_core::{Channel, Keyring, MintRequest, ReferrerId, Verifier, VerifyPolicy};

const DAY: u64 = 86_400;
const T0: u64 = 1_780_000_000;

fn verifier() -> Verifier {
    Verifier::new(
        Keyring::new(1, &[9u8; 32]).unwrap(),
        VerifyPolicy {
            program_id: 7,
            max_age_secs: 365 * DAY,
            max_clock_skew_secs: 300,
        },
    )
}

fn code(v: &Verifier, referrer: u64, channel: Channel, at: u64) -> String {
    v.mint(
        &MintRequest {
            program_id: 7,
            referrer: ReferrerId::Numeric(referrer),
            channel,
            campaign: None,
        },
        at,
    )
    .unwrap()
    .into_string()
}

fn capture(code: &str, at: u64) -> CapturedReferral {
    CapturedReferral {
        code: code.to_owned(),
        captured_at: at,
        method: CaptureMethod::Link,
    }
}

fn referrer(id: u64, account: &str, domain: &str) -> ReferrerInfo {
    ReferrerInfo {
        referrer: ReferrerId::Numeric(id),
        account_id: account.to_owned(),
        email_domain: domain.to_owned(),
        network_prefix_hash: None,
        referred_by_account: None,
        rewards_this_month: 0,
    }
}

fn signup(at: u64) -> Signup {
    Signup {
        account_id: "acct-friend".into(),
        email: "bo@friendco.example".into(),
        company_domain: None,
        at,
        network_prefix_hash: None,
    }
}

fn referrers() -> Vec<ReferrerInfo> {
    vec![
        referrer(1, "acct-anna", "annaco.example"),
        referrer(2, "acct-carl", "carlco.example"),
    ]
}

fn attributed(a: &Attribution) -> &referral_core::attribution::Attributed {
    match a {
        Attribution::Attributed(x) => x,
        other => panic!("expected attribution, got {other:?}"),
    }
}

#[test]
fn last_touch_wins_by_default_and_first_touch_on_request() {
    let v = verifier();
    let a = code(&v, 1, Channel::Email, T0);
    let b = code(&v, 2, Channel::WhatsApp, T0);
    let captures = [capture(&a, T0 + DAY), capture(&b, T0 + 2 * DAY)];
    let last = attribute(
        &v,
        &AttributionPolicy::default(),
        &captures,
        &signup(T0 + 3 * DAY),
        &referrers(),
        &KnownPeople::default(),
    );
    let last = attributed(&last);
    assert_eq!(
        (
            last.referrer_account.as_str(),
            last.channel,
            last.touch,
            last.competing
        ),
        ("acct-carl", Some(Channel::WhatsApp), Touch::LastTouch, 1)
    );
    assert!(!last.review && last.flags.is_empty());
    let policy = AttributionPolicy {
        touch: Touch::FirstTouch,
        ..AttributionPolicy::default()
    };
    let first = attribute(
        &v,
        &policy,
        &captures,
        &signup(T0 + 3 * DAY),
        &referrers(),
        &KnownPeople::default(),
    );
    assert_eq!(attributed(&first).referrer_account, "acct-anna");
}

#[test]
fn window_counts_from_capture_and_code_age_from_issue() {
    let v = verifier();
    let a = code(&v, 1, Channel::Link, T0);
    let policy = AttributionPolicy::default();
    let inside = attribute(
        &v,
        &policy,
        &[capture(&a, T0)],
        &signup(T0 + 90 * DAY),
        &referrers(),
        &KnownPeople::default(),
    );
    assert_eq!(inside.reason(), "attributed");
    let outside = attribute(
        &v,
        &policy,
        &[capture(&a, T0)],
        &signup(T0 + 90 * DAY + 1),
        &referrers(),
        &KnownPeople::default(),
    );
    assert_eq!(outside.reason(), "outside_window");
    // Enterprise: 180 days.
    let enterprise = AttributionPolicy {
        window_secs: 180 * DAY,
        ..policy.clone()
    };
    assert_eq!(
        attribute(
            &v,
            &enterprise,
            &[capture(&a, T0)],
            &signup(T0 + 170 * DAY),
            &referrers(),
            &KnownPeople::default()
        )
        .reason(),
        "attributed"
    );
    // Captured recently, but the code itself is past the program's max age.
    let old = code(&v, 1, Channel::Link, T0 - 366 * DAY);
    let expired = attribute(
        &v,
        &policy,
        &[capture(&old, T0)],
        &signup(T0 + DAY),
        &referrers(),
        &KnownPeople::default(),
    );
    let Attribution::NotAttributed { reason, set_aside } = expired else {
        panic!()
    };
    assert_eq!(reason.code(), "no_valid_code");
    assert_eq!(set_aside[0].reason, "expired");
    // A capture time before the code existed is not believed.
    let later = code(&v, 1, Channel::Link, T0 + 10 * DAY);
    let odd = attribute(
        &v,
        &policy,
        &[capture(&later, T0)],
        &signup(T0 + 11 * DAY),
        &referrers(),
        &KnownPeople::default(),
    );
    assert_eq!(odd.reason(), "outside_window", "{odd:?}");
}

#[test]
fn hard_rejections_have_reasons() {
    let v = verifier();
    let policy = AttributionPolicy::default();
    let none = attribute(
        &v,
        &policy,
        &[],
        &signup(T0),
        &referrers(),
        &KnownPeople::default(),
    );
    assert_eq!(none.reason(), "no_referral");
    let bad = attribute(
        &v,
        &policy,
        &[capture("garbage!", T0)],
        &signup(T0),
        &referrers(),
        &KnownPeople::default(),
    );
    assert_eq!(bad.reason(), "no_valid_code");
    let stranger = code(&v, 99, Channel::Link, T0);
    assert_eq!(
        attribute(
            &v,
            &policy,
            &[capture(&stranger, T0)],
            &signup(T0 + 1),
            &referrers(),
            &KnownPeople::default()
        )
        .reason(),
        "unknown_referrer"
    );
    let wrong_program = Verifier::new(
        Keyring::new(1, &[9u8; 32]).unwrap(),
        VerifyPolicy::for_program(8),
    );
    let other = wrong_program
        .mint(
            &MintRequest {
                program_id: 8,
                referrer: ReferrerId::Numeric(1),
                channel: Channel::Link,
                campaign: None,
            },
            T0,
        )
        .unwrap();
    let Attribution::NotAttributed { set_aside, .. } = attribute(
        &v,
        &policy,
        &[capture(other.as_str(), T0)],
        &signup(T0 + 1),
        &referrers(),
        &KnownPeople::default(),
    ) else {
        panic!()
    };
    assert_eq!(set_aside[0].reason, "wrong_program");
    let own = code(&v, 3, Channel::Link, T0);
    let mut rs = referrers();
    rs.push(referrer(3, "acct-friend", "friendco.example"));
    assert_eq!(
        attribute(
            &v,
            &policy,
            &[capture(&own, T0)],
            &signup(T0 + 1),
            &rs,
            &KnownPeople::default()
        )
        .reason(),
        "self_referral"
    );
    let mut no_email = signup(T0);
    no_email.email = "not an email".into();
    assert_eq!(
        attribute(
            &v,
            &policy,
            &[capture(&own, T0)],
            &no_email,
            &rs,
            &KnownPeople::default()
        )
        .reason(),
        "invalid_email"
    );
}

#[test]
fn self_referral_does_not_block_a_genuine_referrer() {
    let v = verifier();
    let own = code(&v, 3, Channel::Link, T0);
    let anna = code(&v, 1, Channel::Link, T0);
    let mut rs = referrers();
    rs.push(referrer(3, "acct-friend", "friendco.example"));
    let result = attribute(
        &v,
        &AttributionPolicy::default(),
        &[capture(&anna, T0), capture(&own, T0 + 5)],
        &signup(T0 + 10),
        &rs,
        &KnownPeople::default(),
    );
    let a = attributed(&result);
    assert_eq!(a.referrer_account, "acct-anna");
    assert_eq!(a.set_aside[0].reason, "self_referral");
}

#[test]
fn fraud_signals_are_flags_for_review() {
    let v = verifier();
    let anna = code(&v, 1, Channel::Link, T0);
    let mut info = referrer(1, "acct-anna", "friendco.example");
    info.network_prefix_hash = Some("h:203.0.113".into());
    info.referred_by_account = Some("acct-friend".into());
    info.rewards_this_month = 12;
    let mut s = signup(T0 + 10);
    s.email = "Bo.Smith+x@mailinator.com".into();
    s.company_domain = Some("FriendCo.example".into());
    s.network_prefix_hash = Some("h:203.0.113".into());
    let policy = AttributionPolicy {
        max_rewards_per_month: 10,
        ..AttributionPolicy::default()
    };
    let known = KnownPeople {
        account_with_same_normalized_email: Some("acct-old".into()),
    };
    let result = attribute(
        &v,
        &policy,
        &[capture(&anna, T0)],
        &s,
        &[info.clone()],
        &known,
    );
    let a = attributed(&result);
    assert!(a.review);
    assert_eq!(result.reason(), "attributed_for_review");
    let codes: Vec<&str> = a.flags.iter().map(FraudFlag::code).collect();
    assert_eq!(
        codes,
        [
            "same_company_domain",
            "disposable_email",
            "duplicate_person",
            "referral_ring",
            "velocity",
            "shared_network_prefix"
        ]
    );
    assert!(a.flags.contains(&FraudFlag::DuplicatePerson {
        normalized_email: "bo.smith@mailinator.com".into(),
        existing_account: "acct-old".into()
    }));
    // Employee programs allow colleagues' domains.
    let employee = AttributionPolicy {
        allow_same_company_domain: true,
        ..AttributionPolicy::default()
    };
    let clean = ReferrerInfo {
        network_prefix_hash: None,
        referred_by_account: None,
        rewards_this_month: 0,
        ..info
    };
    let mut s2 = signup(T0 + 10);
    s2.company_domain = Some("friendco.example".into());
    assert!(
        !attributed(&attribute(
            &v,
            &employee,
            &[capture(&anna, T0)],
            &s2,
            std::slice::from_ref(&clean),
            &KnownPeople::default()
        ))
        .review
    );
    // A shared free-mail domain is not a shared company.
    let gmail = ReferrerInfo {
        email_domain: "gmail.com".into(),
        ..clean
    };
    let mut s3 = signup(T0 + 10);
    s3.email = "friend@gmail.com".into();
    assert!(
        !attributed(&attribute(
            &v,
            &AttributionPolicy::default(),
            &[capture(&anna, T0)],
            &s3,
            &[gmail],
            &KnownPeople::default()
        ))
        .review
    );
}

#[test]
fn typed_codes_attribute_without_a_link() {
    let v = verifier();
    let typed = v.keyring.typed_code(7, 2);
    assert_eq!(typed.len(), 12, "{typed}"); // XXXX-XXXX-XX for a small id: 10 symbols, 48 bits
    let sloppy = typed.to_lowercase().replace('-', " ");
    let captured = CapturedReferral {
        code: sloppy,
        captured_at: T0,
        method: CaptureMethod::TypedCode,
    };
    let result = attribute(
        &v,
        &AttributionPolicy::default(),
        &[captured],
        &signup(T0 + 5),
        &referrers(),
        &KnownPeople::default(),
    );
    let a = attributed(&result);
    assert_eq!(
        (a.referrer_account.as_str(), a.channel, a.method),
        ("acct-carl", None, CaptureMethod::TypedCode)
    );
    // Another program's typed code, or a typo, is refused.
    let other = v.keyring.typed_code(8, 2);
    assert_eq!(
        v.keyring.verify_typed_code(&other, 7).unwrap_err().reason(),
        "bad_signature"
    );
    let mut typo = typed.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    assert!(v
        .keyring
        .verify_typed_code(std::str::from_utf8(&typo).unwrap(), 7)
        .is_err());
    assert_eq!(
        v.keyring.verify_typed_code("U", 7).unwrap_err().reason(),
        "malformed"
    );
}
