//! The length table in docs/code-format.md, checked. Run with
//! `cargo test -p referral-core --test code_lengths -- --nocapture` to print it.
#![allow(clippy::unwrap_used)]

use referral_core::{Channel, Keyring, MintRequest, ReferrerId};

const NOW: u64 = 1_795_000_000; // 2026-11

fn length(program_id: u32, referrer: ReferrerId, campaign: Option<u32>) -> usize {
    let ring = Keyring::new(1, &[1u8; 32]).expect("key");
    let request = MintRequest {
        program_id,
        referrer,
        channel: Channel::Email,
        campaign,
    };
    ring.mint(&request, NOW).expect("mint").as_str().len()
}

#[test]
fn code_lengths_match_the_documented_table() {
    let uuid = ReferrerId::opaque(vec![0xab; 16]).expect("uuid");
    let rows: Vec<(&str, u32, ReferrerId, Option<u32>, usize)> = vec![
        (
            "program 7, referrer 42",
            7,
            ReferrerId::Numeric(42),
            None,
            22,
        ),
        (
            "program 7, referrer 1,000,000",
            7,
            ReferrerId::Numeric(1_000_000),
            None,
            25,
        ),
        (
            "program 7, referrer 2^28-1",
            7,
            ReferrerId::Numeric((1 << 28) - 1),
            None,
            26,
        ),
        (
            "program 7, referrer 2^35-1",
            7,
            ReferrerId::Numeric((1 << 35) - 1),
            None,
            27,
        ),
        (
            "program 300, referrer 2^35-1",
            300,
            ReferrerId::Numeric((1 << 35) - 1),
            None,
            29,
        ),
        (
            "program 7, referrer u32::MAX",
            7,
            ReferrerId::Numeric(u64::from(u32::MAX)),
            None,
            27,
        ),
        (
            "program 7, referrer 2^42-1",
            7,
            ReferrerId::Numeric((1 << 42) - 1),
            None,
            29,
        ),
        (
            "program 7, referrer 2^56-1",
            7,
            ReferrerId::Numeric((1 << 56) - 1),
            None,
            31,
        ),
        (
            "program u32::MAX, referrer u64::MAX",
            u32::MAX,
            ReferrerId::Numeric(u64::MAX),
            None,
            39,
        ),
        (
            "program 7, referrer 42, campaign 2026",
            7,
            ReferrerId::Numeric(42),
            Some(2026),
            25,
        ),
        ("program 7, UUID referrer (16 bytes)", 7, uuid, None, 44),
        (
            "program 7, 9-char string referrer",
            7,
            ReferrerId::from_text("usr_8f2kQ").expect("id"),
            None,
            34,
        ),
        (
            "program 7, 32-byte string referrer",
            7,
            ReferrerId::opaque(vec![b'a'; 32]).expect("id"),
            None,
            65,
        ),
    ];
    let mut failures = Vec::new();
    println!("| claims | characters |\n|---|---|");
    for (name, program, referrer, campaign, documented) in rows {
        let actual = length(program, referrer, campaign);
        println!("| {name} | {actual} |");
        if actual > documented {
            failures.push(format!("{name}: {actual} > documented {documented}"));
        }
        // Lengths vary by at most a character with the key, time and tag.
        if actual + 1 < documented {
            failures.push(format!(
                "{name}: {actual} is well under documented {documented}: update the table"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
