//! Replays the shared vector file's attribution, fraud, rewards and funnel
//! sections.

use referral_core::attribution::{
    attribute, Attribution, AttributionPolicy, CapturedReferral, KnownPeople, ReferrerInfo, Signup,
};
use referral_core::fraud;
use referral_core::funnel::{funnel, Customer, FunnelEvent, FunnelReport};
use referral_core::rewards::{Applied, Ledger, LedgerEvent, Program};
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
    let mut ledger = Ledger::new();
    let mut reasons = std::collections::BTreeSet::new();
    for step in rewards["steps"].as_array().unwrap() {
        let event: LedgerEvent = from(&step["event"]);
        match (ledger.apply(&program, &event), step.get("applied")) {
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
    for s in rewards["statuses"].as_array().unwrap() {
        let entry = ledger
            .entries
            .iter()
            .find(|e| e.id == s["entry"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            serde_json::to_value(ledger.status(entry, at)).unwrap(),
            s["status"]
        );
    }
    let balances = ledger.balances(at);
    for b in rewards["balances"].as_array().unwrap() {
        let balance = &balances[b["beneficiary"].as_str().unwrap()];
        assert_eq!(
            balance,
            &from::<referral_core::rewards::Balance>(&b["balance"])
        );
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
