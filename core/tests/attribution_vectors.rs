//! Replays the shared vector file's attribution, fraud, rewards and funnel
//! sections (rewards through one ledger and through the per-referrer one).
#![allow(clippy::unwrap_used)]

use referral_core::attribution::{
    attribute, Attribution, AttributionPolicy, CapturedReferral, KnownPeople, ReferrerInfo, Signup,
};
use referral_core::fraud;
use referral_core::funnel::{funnel, Customer, FunnelEvent, FunnelReport, Stage};
use referral_core::rewards::{
    Applied, Balance, EntryStatus, Ledger, LedgerEvent, Program, ProgramLedger,
};
use referral_core::{KeyStatus, Keyring, Verifier, VerifyPolicy};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).unwrap()
}

fn from<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap()
}

fn shared_verifier(codes: &Value) -> Verifier {
    let keys: Vec<(u32, Vec<u8>, KeyStatus)> = codes["keyring"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_id"].as_u64().unwrap() as u32,
                hex::decode(k["secret_hex"].as_str().unwrap()).unwrap(),
                from(&k["status"]),
            )
        })
        .collect();
    let ring = Keyring::from_keys(keys.iter().map(|(i, s, st)| (*i, s.as_slice(), *st))).unwrap();
    Verifier::new(ring, from::<VerifyPolicy>(&codes["policy"]))
}

#[test]
fn attribution_cases_decide_identically() {
    let v = vectors();
    let verifier = shared_verifier(&v["codes"]);
    let typed = &v["attribution"]["typed_code"];
    assert_eq!(
        verifier
            .keyring
            .typed_code(7, typed["referrer"].as_u64().unwrap()),
        typed["code"].as_str().unwrap()
    );
    let cases = v["attribution"]["cases"].as_array().unwrap();
    let mut reasons = std::collections::BTreeSet::new();
    for case in cases {
        let outcome = attribute(
            &verifier,
            &from::<AttributionPolicy>(&case["policy"]),
            &from::<Vec<CapturedReferral>>(&case["captures"]),
            &from::<Signup>(&case["signup"]),
            &from::<Vec<ReferrerInfo>>(&case["referrers"]),
            &from::<KnownPeople>(&case["known"]),
        );
        assert_eq!(
            outcome,
            from::<Attribution>(&case["expected"]),
            "{}",
            case["name"]
        );
        assert_eq!(outcome.reason(), case["reason"].as_str().unwrap());
        reasons.insert(outcome.reason());
    }
    for reason in [
        "attributed",
        "attributed_for_review",
        "no_referral",
        "no_valid_code",
        "outside_window",
        "unknown_referrer",
        "self_referral",
        "invalid_email",
    ] {
        assert!(
            reasons.contains(reason),
            "no attribution vector for {reason}"
        );
    }
    // A stated company domain only adds a same-company flag: one vector
    // states another domain than the email's and keeps the flag, one adds
    // it to a free-provider email.
    let flagged_with_stated_domain = |flag_is_emails: bool| {
        cases.iter().any(|case| {
            let signup = from::<Signup>(&case["signup"]);
            let email_domain = fraud::email_domain(&signup.email).unwrap_or_default();
            let Some(stated) = signup.company_domain else {
                return false;
            };
            let flags = case["expected"]["flags"].as_array();
            flags.into_iter().flatten().any(|f| {
                f["flag"] == "same_company_domain"
                    && (f["domain"] == email_domain.as_str()) == flag_is_emails
            }) && !stated.eq_ignore_ascii_case(&email_domain)
        })
    };
    assert!(
        flagged_with_stated_domain(true),
        "no vector where a stated domain leaves the email's flag"
    );
    assert!(
        flagged_with_stated_domain(false),
        "no vector where a stated domain adds the flag"
    );
}

#[test]
fn fraud_cases_decide_identically() {
    let v = vectors();
    for case in v["fraud"]["normalize_email"].as_array().unwrap() {
        let result = fraud::normalize_email(case["email"].as_str().unwrap());
        match case.get("normalized") {
            Some(expected) => assert_eq!(result.unwrap(), expected.as_str().unwrap()),
            None => assert_eq!(
                result.unwrap_err().reason(),
                case["error"].as_str().unwrap()
            ),
        }
    }
    for case in v["fraud"]["disposable_domains"].as_array().unwrap() {
        assert_eq!(
            fraud::is_disposable_domain(case["domain"].as_str().unwrap()),
            case["disposable"].as_bool().unwrap()
        );
    }
}

/// Every entry's status at `at`, by entry id.
fn statuses_of<'a>(
    entries: impl Iterator<Item = (&'a referral_core::rewards::Entry, EntryStatus)>,
) -> std::collections::BTreeMap<String, EntryStatus> {
    entries.map(|(e, s)| (e.id.clone(), s)).collect()
}

/// The section's checks at `at` for one view of the ledger after the steps.
fn check_rewards_at(
    rewards: &Value,
    statuses: &std::collections::BTreeMap<String, EntryStatus>,
    balances: &std::collections::BTreeMap<String, Balance>,
    rewards_this_month: impl Fn(&str, u64) -> u32,
    what: &str,
) {
    let at = rewards["at"].as_u64().unwrap();
    let expected_statuses = rewards["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), expected_statuses.len(), "{what}: entries");
    for s in expected_statuses {
        assert_eq!(
            serde_json::to_value(statuses[s["entry"].as_str().unwrap()]).unwrap(),
            s["status"],
            "{what}: {s}"
        );
    }
    let expected_balances = rewards["balances"].as_array().unwrap();
    assert_eq!(balances.len(), expected_balances.len(), "{what}: balances");
    for b in expected_balances {
        let balance = &balances[b["beneficiary"].as_str().unwrap()];
        assert_eq!(balance, &from::<Balance>(&b["balance"]), "{what}: {b}");
    }
    let when_earned = &rewards["rewards_this_month_when_earned"];
    for (now, expected) in [
        (at, &rewards["rewards_this_month"]),
        (
            when_earned["at"].as_u64().unwrap(),
            &when_earned["expected"],
        ),
    ] {
        let expected = expected.as_array().unwrap();
        assert_eq!(expected.len(), balances.len(), "one count per beneficiary");
        for r in expected {
            assert_eq!(
                u64::from(rewards_this_month(r["account"].as_str().unwrap(), now)),
                r["rewards_this_month"].as_u64().unwrap(),
                "{what}: {r} at {now}"
            );
        }
    }
}

#[test]
fn reward_steps_apply_identically() {
    let v = vectors();
    let rewards = &v["rewards"];
    let program: Program = from(&rewards["program"]);
    program.validate().unwrap();
    assert!(
        program.currency.is_some(),
        "the vector program bills in one currency"
    );
    // The steps through one ledger and through the per-referrer ledger:
    // both give each step's outcome.
    let mut ledger = Ledger::new();
    let mut per_referrer = ProgramLedger::new();
    let mut reasons = std::collections::BTreeSet::new();
    for step in rewards["steps"].as_array().unwrap() {
        let event: LedgerEvent = from(&step["event"]);
        let single = ledger.apply(&program, &event);
        let split = per_referrer.apply(&program, &event);
        assert_eq!(single, split, "{step}: per referrer");
        match (single, step.get("applied")) {
            (Ok(applied), Some(expected)) => assert_eq!(applied, from::<Applied>(expected)),
            (Err(error), None) => {
                assert_eq!(error.reason(), step["error"].as_str().unwrap());
                reasons.insert(error.reason());
            }
            (other, _) => panic!("{step}: got {other:?}"),
        }
    }
    assert!(
        reasons.contains("currency_mismatch"),
        "no ledger vector refused with currency_mismatch"
    );
    let at = rewards["at"].as_u64().unwrap();
    check_rewards_at(
        rewards,
        &statuses_of(ledger.entries.iter().map(|e| (e, ledger.status(e, at)))),
        &ledger.balances(at),
        |who, now| ledger.rewards_this_month(who, now),
        "one ledger",
    );
    check_rewards_at(
        rewards,
        &statuses_of(per_referrer.entries(at)),
        &per_referrer.balances(at),
        |who, now| per_referrer.rewards_this_month(who, now),
        "per referrer",
    );
    // Every referral's ledger is its referrer's.
    for (referrer, l) in per_referrer.ledgers() {
        assert!(l
            .referrals
            .values()
            .all(|r| &r.referrer_account == referrer));
    }
    // The counts are not all zero: the month the rewards were created
    // counts one live referrer reward.
    assert!(rewards["rewards_this_month_when_earned"]["expected"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rewards_this_month"].as_u64().unwrap() > 0));

    // The single-ledger format stored before per-referrer ledgers is this
    // ledger, and splits into the per-referrer one.
    let stored: Ledger = from(&rewards["single_ledger"]);
    assert_eq!(stored, ledger);
    let mut split = ProgramLedger::from_ledger(stored);
    let referrers = |p: &ProgramLedger| -> Vec<(String, Ledger)> {
        // The referrals and entries; a split ledger's per-referrer
        // ledgers do not know which referrer an applied event id was.
        p.ledgers()
            .map(|(who, l)| {
                let mut l = l.clone();
                l.applied_event_ids.clear();
                (who.clone(), l)
            })
            .collect()
    };
    assert_eq!(referrers(&split), referrers(&per_referrer));
    check_rewards_at(
        rewards,
        &statuses_of(split.entries(at)),
        &split.balances(at),
        |who, now| split.rewards_this_month(who, now),
        "split from the single ledger",
    );
    // Each step again is a duplicate or the same refusal, as on the
    // ledger that saw the steps.
    for step in rewards["steps"].as_array().unwrap() {
        let event: LedgerEvent = from(&step["event"]);
        let again = split.apply(&program, &event);
        assert_eq!(again, per_referrer.apply(&program, &event), "{step}");
        if step.get("applied").is_some() {
            assert_eq!(again, Ok(Applied::Duplicate), "{step}");
        }
    }
}

#[test]
fn funnel_case_computes_identically() {
    let v = vectors();
    let f = &v["funnel"];
    let report = funnel(
        &from::<Vec<FunnelEvent>>(&f["events"]),
        &from::<Vec<Customer>>(&f["customers"]),
    );
    assert_eq!(report, from::<FunnelReport>(&f["expected"]));
}

#[test]
fn widget_events_map_to_funnel_stages_identically() {
    let v = vectors();
    let cases = v["funnel"]["widget_stages"].as_array().unwrap();
    for case in cases {
        assert_eq!(
            Stage::of_widget_event(case["event"].as_str().unwrap()),
            from::<Option<Stage>>(&case["stage"]),
            "{case}"
        );
    }
    for kind in ["impression", "share", "copy", "dismiss", "opt_out"] {
        assert!(
            cases.iter().any(|c| c["event"] == kind),
            "no widget_stages vector for {kind}"
        );
    }
    assert!(
        cases.iter().any(|c| c["stage"].is_null()),
        "no widget event outside the funnel"
    );
}
