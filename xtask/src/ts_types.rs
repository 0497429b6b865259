//! `cargo xtask ts-types [--check]`: writes `wasm/js/reasons.d.ts`, the
//! widget's TypeScript declarations of every stable reason code, as
//! string-literal unions generated from core's own `reason()` / `code()`
//! methods, and the `ReferralError` interface that carries them. `--check`
//! fails when the committed file is stale, and when the widget's sources
//! (`wasm/src/*.rs`, `wasm/js/*.js`) throw a code the unions lack.
//!
//! Each list is read from core by calling the method on one value of every
//! variant. The `variant` functions are exhaustive matches, so a variant
//! added in core stops this build until it is listed here, and `reasons`
//! checks at run time that every variant was given.

use std::collections::BTreeSet;
use std::path::Path;

use referral_core::code::Malformation;
use referral_core::nudge::{ConfigError, QuietReason, StateError};
use referral_core::{CodeError, ShareError, TemplateError};

pub const PATH: &str = "wasm/js/reasons.d.ts";

/// The reasons of `values`, which must hold each of the `count` variants.
fn reasons<T>(
    values: &[T],
    count: usize,
    variant: fn(&T) -> usize,
    reason: fn(&T) -> &'static str,
) -> Vec<&'static str> {
    let seen: BTreeSet<usize> = values.iter().map(variant).collect();
    assert_eq!(
        seen,
        (0..count).collect::<BTreeSet<_>>(),
        "ts-types: a variant is missing from a reason list"
    );
    let mut out: Vec<&'static str> = Vec::new();
    for value in values {
        let r = reason(value);
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

fn code_reasons() -> Vec<&'static str> {
    reasons(
        &[
            CodeError::Malformed(Malformation::Truncated),
            CodeError::UnsupportedVersion(0),
            CodeError::UnknownKey(0),
            CodeError::RetiredKey(0),
            CodeError::BadSignature,
            CodeError::Expired {
                issued_at: 0,
                expired_at: 0,
            },
            CodeError::IssuedInFuture {
                issued_at: 0,
                now: 0,
            },
            CodeError::WrongProgram {
                expected: 0,
                found: 0,
            },
        ],
        8,
        |e| match e {
            CodeError::Malformed(_) => 0,
            CodeError::UnsupportedVersion(_) => 1,
            CodeError::UnknownKey(_) => 2,
            CodeError::RetiredKey(_) => 3,
            CodeError::BadSignature => 4,
            CodeError::Expired { .. } => 5,
            CodeError::IssuedInFuture { .. } => 6,
            CodeError::WrongProgram { .. } => 7,
        },
        CodeError::reason,
    )
}

fn template_reasons() -> Vec<&'static str> {
    reasons(
        &[
            TemplateError::UnknownPlaceholder {
                name: String::new(),
                position: 0,
            },
            TemplateError::Unclosed { position: 0 },
            TemplateError::StrayClosingBrace { position: 0 },
        ],
        3,
        |e| match e {
            TemplateError::UnknownPlaceholder { .. } => 0,
            TemplateError::Unclosed { .. } => 1,
            TemplateError::StrayClosingBrace { .. } => 2,
        },
        TemplateError::reason,
    )
}

fn share_reasons() -> Vec<&'static str> {
    reasons(
        &[ShareError::InvalidBaseUrl(""), ShareError::InvalidParam],
        2,
        |e| match e {
            ShareError::InvalidBaseUrl(_) => 0,
            ShareError::InvalidParam => 1,
        },
        ShareError::reason,
    )
}

fn nudge_config_reasons() -> Vec<&'static str> {
    // A struct: one reason whatever the field.
    let e = ConfigError {
        field: String::new(),
        problem: String::new(),
    };
    vec![e.reason()]
}

fn nudge_state_reasons() -> Vec<&'static str> {
    reasons(
        &[
            StateError::FutureVersion(0),
            StateError::Invalid(String::new()),
        ],
        2,
        |e| match e {
            StateError::FutureVersion(_) => 0,
            StateError::Invalid(_) => 1,
        },
        StateError::reason,
    )
}

fn quiet_reasons() -> Vec<&'static str> {
    reasons(
        &[
            QuietReason::NoMatchingMoment,
            QuietReason::OptedOut,
            QuietReason::Holdout,
            QuietReason::Onboarding,
            QuietReason::NotEligible {
                rule: String::new(),
            },
            QuietReason::RecentFriction {
                event: String::new(),
                seconds_ago: 0,
            },
            QuietReason::RecentlyReferred { until: 0 },
            QuietReason::Cooldown { until: 0 },
            QuietReason::CapReached { until: 0 },
        ],
        9,
        |r| match r {
            QuietReason::NoMatchingMoment => 0,
            QuietReason::OptedOut => 1,
            QuietReason::Holdout => 2,
            QuietReason::Onboarding => 3,
            QuietReason::NotEligible { .. } => 4,
            QuietReason::RecentFriction { .. } => 5,
            QuietReason::RecentlyReferred { .. } => 6,
            QuietReason::Cooldown { .. } => 7,
            QuietReason::CapReached { .. } => 8,
        },
        QuietReason::code,
    )
}

/// The widget's own codes, not core's: `invalid_input` from the wasm
/// exports (an unknown channel or outcome, a bad `now`), the rest from its
/// JS (the module or the code could not be fetched, a bad `track` call).
/// The check below keeps this list and the sources in step.
const WIDGET_REASONS: [&str; 5] = [
    "invalid_input",
    "invalid_event",
    "module_unavailable",
    "code_unavailable",
    "nudge_config_unavailable",
];

fn union(name: &str, doc: &str, codes: &[&str]) -> String {
    let body = codes
        .iter()
        .map(|c| format!("\n  | \"{c}\""))
        .collect::<String>();
    format!("/** {doc} */\nexport type {name} ={body};\n\n")
}

fn render() -> String {
    let mut out = String::from(
        "// Generated by `cargo xtask ts-types` from core's reason codes: do not edit.\n\
         // `cargo xtask ts-types --check` (scripts/test-all.sh) fails when it is stale.\n\n",
    );
    out += &union(
        "CodeReason",
        "`peek`: why a code could not be read (core's `CodeError::reason`).",
        &code_reasons(),
    );
    out += &union(
        "TemplateReason",
        "A message template (`message.subject`, `message.body`) core refused.",
        &template_reasons(),
    );
    out += &union(
        "ShareReason",
        "A share link core could not build (`shareBaseUrl`, `linkParam`).",
        &share_reasons(),
    );
    out += &union(
        "NudgeConfigReason",
        "A nudge configuration core refused; the error's `field` names the value.",
        &nudge_config_reasons(),
    );
    out += &union(
        "NudgeStateReason",
        "A stored nudge state core could not read or merge.",
        &nudge_state_reasons(),
    );
    out += &union(
        "WidgetReason",
        "The widget's own: bad arguments, a module or a code that could not be fetched.",
        &WIDGET_REASONS,
    );
    out += "/** Every `code` a `ReferralError` from the widget can carry. */\n\
            export type ReasonCode =\n  | CodeReason\n  | TemplateReason\n  | ShareReason\n  \
            | NudgeConfigReason\n  | NudgeStateReason\n  | WidgetReason;\n\n";
    out += &union(
        "QuietReasonCode",
        "Why a nudge decision is quiet: `reason.code` (core's `QuietReason::code`).",
        &quiet_reasons(),
    );
    out += "/**\n * What the widget throws, and what its `referral-error` events describe:\n \
            * `code` is core's stable reason (`reason` in the native SDKs, `error` in\n \
            * the reference service's HTTP API); `field` is set for\n \
            * `invalid_nudge_config`.\n */\n\
            export interface ReferralError extends Error {\n  name: \"ReferralError\";\n  \
            code: ReasonCode;\n  field?: string;\n}\n";
    out
}

/// Every literal the widget's sources throw as a code: `error("…"` in
/// `wasm/src/*.rs` and `{ code: "…"` in `wasm/js/*.js`.
fn thrown_codes(root: &Path) -> Result<BTreeSet<String>, String> {
    let mut found = BTreeSet::new();
    for (dir, ext, marker) in [
        ("wasm/src", "rs", "error(\""),
        ("wasm/js", "js", "{ code: \""),
    ] {
        let entries = std::fs::read_dir(root.join(dir)).map_err(|e| format!("{dir}: {e}"))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != ext) {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            for (i, _) in text.match_indices(marker) {
                let rest = &text[i + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let code = &rest[..end];
                    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    {
                        found.insert(code.to_owned());
                    }
                }
            }
        }
    }
    Ok(found)
}

pub fn run(root: &Path, check: bool) -> Result<(), String> {
    let fresh = render();
    let known: BTreeSet<&str> = [
        code_reasons(),
        template_reasons(),
        share_reasons(),
        nudge_config_reasons(),
        nudge_state_reasons(),
        WIDGET_REASONS.to_vec(),
    ]
    .concat()
    .into_iter()
    .collect();
    let unknown: Vec<String> = thrown_codes(root)?
        .into_iter()
        .filter(|c| !known.contains(c.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the widget throws codes missing from ReasonCode: {} (add them to WIDGET_REASONS in xtask/src/ts_types.rs)",
            unknown.join(", ")
        ));
    }
    let path = root.join(PATH);
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            return Err(format!(
                "{PATH} is out of date: run `cargo xtask ts-types` and commit"
            ));
        }
        println!("{PATH} is up to date");
        return Ok(());
    }
    std::fs::write(&path, fresh).map_err(|e| format!("{PATH}: {e}"))?;
    println!("wrote {PATH}");
    Ok(())
}
