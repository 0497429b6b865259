//! Attribution, fraud, rewards and funnel vectors.

use referral_core::attribution::{
    attribute, AttributionPolicy, CaptureMethod, CapturedReferral, KnownPeople, ReferrerInfo,
    Signup, Touch,
};
use referral_core::fraud;
use referral_core::funnel::{funnel, Customer, FunnelEvent, Stage};
use referral_core::rewards::*;
use referral_core::{Channel, MintRequest, ReferrerId, Verifier};
use serde_json::{json, Value};

const DAY: u64 = 86_400;
const T0: u64 = 1_780_000_000;

pub fn attribution(verifier: &Verifier) -> Result<Value, String> {
    let mint = |referrer: u64, channel: Channel, at: u64| -> Result<String, String> {
        verifier
            .mint(
                &MintRequest {
                    program_id: 7,
                    referrer: ReferrerId::Numeric(referrer),
                    channel,
                    campaign: None,
                },
                at,
            )
            .map(|c| c.into_string())
            .map_err(|e| e.to_string())
    };
    let link = |code: &str, at: u64| CapturedReferral {
        code: code.to_owned(),
        captured_at: at,
        method: CaptureMethod::Link,
    };
    let info = |id: u64, account: &str, domain: &str| ReferrerInfo {
        referrer: ReferrerId::Numeric(id),
        account_id: account.to_owned(),
        email_domain: domain.to_owned(),
        network_prefix_hash: None,
        referred_by_account: None,
        rewards_this_month: 0,
    };
    let signup = |email: &str, at: u64| Signup {
        account_id: "acct-friend".into(),
        email: email.into(),
        company_domain: None,
        at,
        network_prefix_hash: None,
    };
    let anna = mint(1, Channel::Email, T0)?;
    let carl = mint(2, Channel::WhatsApp, T0)?;
    let old = mint(1, Channel::Link, T0 - 100 * DAY)?;
    let own = mint(3, Channel::Link, T0)?;
    let typed = verifier.keyring.typed_code(7, 2);
    let referrers = vec![
        info(1, "acct-anna", "annaco.example"),
        info(2, "acct-carl", "friendco.example"),
        info(3, "acct-friend", "friendco.example"),
    ];
    let mut flagged_referrer = info(1, "acct-anna", "annaco.example");
    flagged_referrer.referred_by_account = Some("acct-friend".into());
    flagged_referrer.rewards_this_month = 10;
    flagged_referrer.network_prefix_hash = Some("n:5f2a".into());
    let stated = |email: &str, company_domain: &str| Signup {
        company_domain: Some(company_domain.into()),
        ..signup(email, T0 + DAY)
    };
    let mut flagged_signup = signup("Bo.Smith+promo@mailinator.com", T0 + DAY);
    flagged_signup.network_prefix_hash = Some("n:5f2a".into());
    let default = AttributionPolicy::default();
    let first_touch = AttributionPolicy {
        touch: Touch::FirstTouch,
        ..default.clone()
    };
    let velocity = AttributionPolicy {
        max_rewards_per_month: 10,
        ..default.clone()
    };
    type Case = (
        &'static str,
        AttributionPolicy,
        Vec<CapturedReferral>,
        Signup,
        Vec<ReferrerInfo>,
        KnownPeople,
    );
    let cases: Vec<Case> = vec![
        (
            "last touch wins",
            default.clone(),
            vec![link(&anna, T0 + 10), link(&carl, T0 + 20)],
            signup("bo@bo.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "first touch on request",
            first_touch,
            vec![link(&anna, T0 + 10), link(&carl, T0 + 20)],
            signup("bo@bo.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "outside a 30-day window",
            AttributionPolicy {
                window_secs: 30 * DAY,
                ..default.clone()
            },
            vec![link(&anna, T0)],
            signup("bo@bo.example", T0 + 31 * DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "expired code",
            default.clone(),
            vec![link(&old, T0)],
            signup("bo@bo.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "no referral",
            default.clone(),
            vec![],
            signup("bo@bo.example", T0),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "tampered code",
            default.clone(),
            vec![link(&format!("{}A", &anna[..anna.len() - 1]), T0)],
            signup("bo@bo.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "unknown referrer",
            default.clone(),
            vec![link(&anna, T0)],
            signup("bo@bo.example", T0 + DAY),
            vec![],
            KnownPeople::default(),
        ),
        (
            "self referral",
            default.clone(),
            vec![link(&own, T0)],
            signup("bo@bo.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "same company domain is flagged",
            default.clone(),
            vec![link(&carl, T0)],
            signup("bo@friendco.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "a stated company domain does not hide the email's",
            default.clone(),
            vec![link(&carl, T0)],
            stated("bo@friendco.example", "otherco.example"),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "a stated company domain adds the flag",
            default.clone(),
            vec![link(&carl, T0)],
            stated("bo.friend@gmail.com", " FriendCo.example "),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "every fraud flag",
            velocity,
            vec![link(&anna, T0)],
            flagged_signup,
            vec![flagged_referrer],
            KnownPeople {
                account_with_same_normalized_email: Some("acct-old".into()),
            },
        ),
        (
            "typed code",
            default.clone(),
            vec![CapturedReferral {
                code: typed.to_lowercase(),
                captured_at: T0,
                method: CaptureMethod::TypedCode,
            }],
            signup("bo@bo.example", T0 + DAY),
            referrers.clone(),
            KnownPeople::default(),
        ),
        (
            "invalid email",
            default,
            vec![link(&anna, T0)],
            signup("bo at bo", T0 + DAY),
            referrers,
            KnownPeople::default(),
        ),
    ];
    let out: Vec<Value> = cases
        .into_iter()
        .map(|(name, policy, captures, signup, referrers, known)| {
            let outcome = attribute(verifier, &policy, &captures, &signup, &referrers, &known);
            json!({
                "name": name,
                "policy": policy,
                "captures": captures,
                "signup": signup,
                "referrers": referrers,
                "known": known,
                "reason": outcome.reason(),
                "expected": outcome,
            })
        })
        .collect();
    Ok(json!({
        "comment": "attribute with the codes section's keyring and policy: `expected` is the whole outcome, `reason` its code",
        "typed_code": { "program_id": 7, "referrer": 2, "code": typed },
        "cases": out,
    }))
}

pub fn fraud() -> Value {
    let emails: Vec<Value> = [
        "Anna.Lind+promo@GoogleMail.com",
        " bo.smith@gmail.com ",
        "a.b+x@acme.io",
        "Zoë@Example.ORG",
        "no-at-sign",
        "+only@acme.io",
        "a b@acme.io",
    ]
    .into_iter()
    .map(|email| match fraud::normalize_email(email) {
        Ok(normalized) => json!({ "email": email, "normalized": normalized }),
        Err(e) => json!({ "email": email, "error": e.reason() }),
    })
    .collect();
    let domains: Vec<Value> = [
        "mailinator.com",
        "inbox.mailinator.com",
        "MAILINATOR.COM",
        "acme.com",
        "gmail.com",
        "10minutemail.com",
    ]
    .into_iter()
    .map(|d| json!({ "domain": d, "disposable": fraud::is_disposable_domain(d) }))
    .collect();
    let (exact, wildcard) = fraud::disposable_list_sizes();
    json!({
        "normalize_email": emails,
        "disposable_domains": domains,
        "disposable_list_sizes": { "exact": exact, "wildcard": wildcard },
    })
}

fn usd(cents: i64) -> Money {
    Money::new(cents, "USD")
}

pub fn rewards() -> Result<Value, String> {
    let program = Program {
        id: 7,
        kind: ProgramKind::Customer,
        qualifying_event: QualifyingEvent::FirstPayment,
        referrer_reward: RewardRule::AccountCredit { amount: usd(5_000) },
        friend_reward: Some(RewardRule::FreeMonths { months: 1 }),
        tiers: vec![Tier {
            from_count: 2,
            reward: RewardRule::AccountCredit {
                amount: usd(10_000),
            },
        }],
        cap: Some(Cap {
            period: Period::Month,
            max_rewards: Some(2),
            max_amount: None,
        }),
        hold_days: 30,
        clawback_days: 90,
        currency: Some("USD".into()),
    };
    program.validate().map_err(|e| e.to_string())?;
    let attributed = |id: &str, referrer: &str, review: bool, at: u64| LedgerEvent::Attributed {
        event_id: format!("attr-{id}"),
        referral_id: id.into(),
        referrer_account: referrer.into(),
        friend_account: format!("friend-{id}"),
        review,
        at,
    };
    let pay = |event: &str, id: &str, at: u64| LedgerEvent::Payment {
        event_id: event.into(),
        referral_id: id.into(),
        at,
        amount: usd(9_900),
        acv: Some(usd(118_800)),
    };
    // Refused: the program bills in USD (the ledger is left unchanged).
    let pay_in =
        |event: &str, id: &str, at: u64, amount: Money, acv: Option<Money>| LedgerEvent::Payment {
            event_id: event.into(),
            referral_id: id.into(),
            at,
            amount,
            acv,
        };
    let events = vec![
        attributed("r1", "anna", false, T0),
        pay_in("inv-eur", "r1", T0 + DAY, Money::new(9_900, "EUR"), None),
        pay_in(
            "inv-acv-eur",
            "r1",
            T0 + DAY,
            usd(9_900),
            Some(Money::new(118_800, "EUR")),
        ),
        pay("inv-1", "r1", T0 + DAY),
        pay("inv-1", "r1", T0 + DAY),
        LedgerEvent::Paid {
            event_id: "pay-early".into(),
            entry_id: "inv-1/referrer".into(),
            at: T0 + 2 * DAY,
        },
        LedgerEvent::Paid {
            event_id: "pay-1".into(),
            entry_id: "inv-1/referrer".into(),
            at: T0 + 31 * DAY,
        },
        pay("inv-x", "unknown", T0 + DAY),
        attributed("r2", "anna", true, T0 + 2 * DAY),
        pay("inv-2", "r2", T0 + 2 * DAY),
        attributed("r3", "anna", false, T0 + 3 * DAY),
        pay("inv-3", "r3", T0 + 3 * DAY),
        LedgerEvent::Approved {
            event_id: "ok-2".into(),
            referral_id: "r2".into(),
            at: T0 + 5 * DAY,
        },
        LedgerEvent::Reversal {
            event_id: "refund-1".into(),
            referral_id: "r1".into(),
            at: T0 + 40 * DAY,
            reason: ReversalReason::Refund,
        },
        LedgerEvent::Reversal {
            event_id: "churn-3".into(),
            referral_id: "r3".into(),
            at: T0 + 200 * DAY,
            reason: ReversalReason::Churn,
        },
        // A flagged referral a person rejects as fraud: its rewards are
        // reversed, it cannot be approved after, and it earns no more.
        attributed("r4", "ben", true, T0 + 6 * DAY),
        pay("inv-4", "r4", T0 + 6 * DAY),
        LedgerEvent::Reversal {
            event_id: "reject-4".into(),
            referral_id: "r4".into(),
            at: T0 + 7 * DAY,
            reason: ReversalReason::FraudConfirmed,
        },
        LedgerEvent::Approved {
            event_id: "ok-4".into(),
            referral_id: "r4".into(),
            at: T0 + 8 * DAY,
        },
        pay("inv-4b", "r4", T0 + 37 * DAY),
        // Manual adjustments with a reason: payable at once, not rewards
        // (caps and velocity leave them out); refused without a reason,
        // at zero, or in another currency.
        LedgerEvent::Adjustment {
            event_id: "adj-1".into(),
            referral_id: "r1".into(),
            side: Side::Referrer,
            amount: usd(2_500),
            reason: "goodwill: support ticket 42".into(),
            at: T0 + 9 * DAY,
        },
        LedgerEvent::Adjustment {
            event_id: "adj-2".into(),
            referral_id: "r3".into(),
            side: Side::Friend,
            amount: usd(-500),
            reason: "double credit taken back".into(),
            at: T0 + 9 * DAY,
        },
        LedgerEvent::Adjustment {
            event_id: "adj-3".into(),
            referral_id: "r1".into(),
            side: Side::Referrer,
            amount: usd(0),
            reason: "nothing".into(),
            at: T0 + 9 * DAY,
        },
        LedgerEvent::Adjustment {
            event_id: "adj-4".into(),
            referral_id: "r1".into(),
            side: Side::Referrer,
            amount: Money::new(100, "EUR"),
            reason: "wrong currency".into(),
            at: T0 + 9 * DAY,
        },
    ];
    let mut ledger = Ledger::new();
    // The same events through the per-referrer ledger: the file is only
    // written when both give the same outcome for every step.
    let mut per_referrer = ProgramLedger::new();
    let mut steps = Vec::new();
    for event in events {
        let outcome = ledger.apply(&program, &event);
        if outcome != per_referrer.apply(&program, &event) {
            return Err(format!(
                "{}: ProgramLedger and Ledger disagree",
                event.event_id()
            ));
        }
        let result = match outcome {
            Ok(applied) => json!({ "applied": applied }),
            Err(e) => json!({ "error": e.reason() }),
        };
        let mut step = json!({ "event": event });
        if let (Some(step), Some(result)) = (step.as_object_mut(), result.as_object()) {
            step.extend(result.clone());
        }
        steps.push(step);
    }
    let at = T0 + 41 * DAY;
    let statuses: Vec<Value> = ledger
        .entries
        .iter()
        .map(|e| json!({ "entry": e.id, "status": ledger.status(e, at) }))
        .collect();
    let balances: Vec<Value> = ledger
        .balances(at)
        .iter()
        .map(|(who, b)| json!({ "beneficiary": who, "balance": b }))
        .collect();
    let mut split_statuses: Vec<(&str, EntryStatus)> = per_referrer
        .entries(at)
        .map(|(e, status)| (e.id.as_str(), status))
        .collect();
    let mut single_statuses: Vec<(&str, EntryStatus)> = ledger
        .entries
        .iter()
        .map(|e| (e.id.as_str(), ledger.status(e, at)))
        .collect();
    split_statuses.sort();
    single_statuses.sort();
    if split_statuses != single_statuses || per_referrer.balances(at) != ledger.balances(at) {
        return Err("ProgramLedger and Ledger disagree on entries or balances".into());
    }
    // The velocity rule for each beneficiary, at `at` and in the month the
    // steps' rewards were created (a reversed reward, a friend's reward and
    // a capped payment do not count).
    let velocity = |now: u64| -> Result<Vec<Value>, String> {
        ledger
            .balances(now)
            .keys()
            .map(|account| {
                let count = ledger.rewards_this_month(account, now);
                if per_referrer.rewards_this_month(account, now) != count {
                    return Err(format!(
                        "{account}: ProgramLedger and Ledger rewards_this_month disagree"
                    ));
                }
                Ok(json!({ "account": account, "rewards_this_month": count }))
            })
            .collect()
    };
    let when_earned = T0 + 3 * DAY;
    Ok(json!({
        "comment": "apply `steps[].event` in order to an empty ledger with `program`: each gives `applied` (outcome) or `error` (reason); then at `at` the entries have `statuses` and the beneficiaries `balances`",
        "comment_per_referrer": "the same steps applied to a ledger kept per referrer give the same outcomes, statuses and balances; `rewards_this_month` is each account's velocity count at `at`, `rewards_this_month_when_earned` at its own `at` (the month the rewards were created); `single_ledger` is the ledger after the steps in the single-ledger format stored before per-referrer ledgers: restoring it gives the same statuses, balances and counts",
        "program": program,
        "steps": steps,
        "at": at,
        "statuses": statuses,
        "balances": balances,
        "rewards_this_month": velocity(at)?,
        "rewards_this_month_when_earned": {
            "at": when_earned,
            "expected": velocity(when_earned)?,
        },
        "single_ledger": ledger,
    }))
}

pub fn funnel_cases() -> Value {
    let ev = |stage: Stage, at: u64, referrer: &str, channel: Option<&str>| FunnelEvent {
        stage,
        at,
        referrer: referrer.into(),
        channel: channel.map(Into::into),
        moment: Some("first_report".into()),
        program: Some(7),
    };
    let mut events = Vec::new();
    for i in 0..8 {
        events.push(ev(Stage::Impression, T0 + i, "anna", None));
    }
    events.push(ev(Stage::Share, T0 + 100, "anna", Some("email")));
    events.push(ev(Stage::Share, T0 + 101, "bo", Some("linkedin")));
    events.push(ev(Stage::Click, T0 + 200, "anna", Some("email")));
    events.push(ev(Stage::Signup, T0 + DAY, "anna", Some("email")));
    events.push(ev(Stage::Trial, T0 + DAY, "anna", Some("email")));
    events.push(ev(Stage::Paid, T0 + 10 * DAY, "anna", Some("email")));
    events.push(ev(Stage::Reward, T0 + 10 * DAY, "anna", Some("email")));
    let customers = vec![
        Customer {
            account: "anna".into(),
            since: T0 - 30 * DAY,
            active: true,
        },
        Customer {
            account: "bo".into(),
            since: T0 - 60 * DAY,
            active: true,
        },
        Customer {
            account: "cy".into(),
            since: T0 - 60 * DAY,
            active: true,
        },
    ];
    let report = funnel(&events, &customers);
    // Widget event kinds: the funnel's three, the widget's other events
    // (`open`, the nudge's), shorter names a host might send, and one no
    // widget sends.
    let widget_stages: Vec<Value> = [
        "impression",
        "share",
        "copy",
        "open",
        "dismiss",
        "opt_out",
        "nudge_shown",
        "nudge_dismissed",
        "nudge_opted_out",
        "not_a_widget_event",
    ]
    .iter()
    .map(|kind| json!({ "event": kind, "stage": Stage::of_widget_event(kind) }))
    .collect();
    json!({
        "events": events,
        "customers": customers,
        "expected": report,
        "widget_stages": widget_stages,
    })
}
