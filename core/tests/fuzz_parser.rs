//! Fuzz harness for the code parser: at least a million random inputs and a
//! million mutations of genuine codes go through `peek` and `verify`.
//! Nothing may panic, and no mutation may verify unless it is a genuine code.
//!
//! `FUZZ_ITERATIONS` scales the run (default 1,000,000 per kind);
//! `FUZZ_SEED` replays a run. A deterministic generator keeps CI repeatable.
#![allow(clippy::unwrap_used)]

use referral_core::{
    base62, peek, Channel, Keyring, MintRequest, ReferrerId, Verifier, VerifyPolicy,
};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NOW: u64 = 1_780_000_000;

fn iterations() -> usize {
    std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

fn genuine_codes(verifier: &Verifier) -> Vec<String> {
    let mut codes = Vec::new();
    let referrers = [
        ReferrerId::Numeric(0),
        ReferrerId::Numeric(42),
        ReferrerId::Numeric(u64::MAX),
        ReferrerId::from_text("usr_8f2kQ").expect("short id"),
        ReferrerId::opaque(vec![0xff; 32]).expect("32 bytes"),
    ];
    for (i, referrer) in referrers.into_iter().enumerate() {
        for channel in Channel::ALL {
            let request = MintRequest {
                program_id: 7,
                referrer: referrer.clone(),
                channel,
                campaign: (i % 2 == 0).then_some(i as u32 * 1000),
            };
            codes.push(verifier.mint(&request, NOW).expect("mint").into_string());
        }
    }
    codes
}

fn check(verifier: &Verifier, genuine: &[String], input: &str) {
    let peeked = peek(input);
    // The landing capture's check is peek's decision, error included.
    assert_eq!(
        referral_core::code::check(input),
        peeked.as_ref().map(|_| ()).map_err(Clone::clone),
        "{input:?}"
    );
    let verified = verifier.verify(input, NOW + 60);
    if let Ok(claims) = &verified {
        assert!(
            genuine.iter().any(|g| g == input),
            "a non-genuine input verified: {input:?} -> {claims:?}"
        );
        assert_eq!(peeked.as_ref().map(|p| p.unverified()), Ok(claims.claims()));
    }
    if peeked.is_ok() {
        // Canonical: a text that parses is exactly the encoding of its bytes.
        let bytes = base62::decode(input).expect("peek accepted it");
        assert_eq!(base62::encode(&bytes), input);
    }
}

#[test]
fn random_inputs_never_panic() {
    let verifier = Verifier::new(
        Keyring::new(1, &[3u8; 32]).expect("key"),
        VerifyPolicy::for_program(7),
    );
    let genuine = genuine_codes(&verifier);
    let mut rng = XorShift(seed());
    for _ in 0..iterations() {
        let len = rng.below(48);
        let text: String = if rng.below(4) == 0 {
            // Arbitrary bytes, lossily made into text.
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len)
                .map(|_| char::from(ALPHABET[rng.below(62)]))
                .collect()
        };
        check(&verifier, &genuine, &text);
    }
}

#[test]
fn mutated_codes_never_panic_and_never_verify() {
    let verifier = Verifier::new(
        Keyring::new(1, &[3u8; 32]).expect("key"),
        VerifyPolicy::for_program(7),
    );
    let genuine = genuine_codes(&verifier);
    let mut rng = XorShift(seed() ^ 0xdead_beef);
    let mut structurally_valid = 0usize;
    for _ in 0..iterations() {
        let original = &genuine[rng.below(genuine.len())];
        let mutated = if rng.below(2) == 0 {
            // Text-level mutation.
            let mut text = original.clone().into_bytes();
            for _ in 0..=rng.below(3) {
                match rng.below(4) {
                    0 if !text.is_empty() => {
                        let i = rng.below(text.len());
                        text[i] = ALPHABET[rng.below(62)];
                    }
                    1 => {
                        let i = rng.below(text.len() + 1);
                        text.insert(i, ALPHABET[rng.below(62)]);
                    }
                    2 if !text.is_empty() => {
                        text.remove(rng.below(text.len()));
                    }
                    _ => text.truncate(rng.below(text.len() + 1)),
                }
            }
            String::from_utf8(text).expect("alphabet is ASCII")
        } else {
            // Byte-level mutation of the decoded code, re-encoded: reaches
            // deep into the layout (flags, varints, lengths, tag).
            let mut bytes = base62::decode(original).expect("genuine decodes");
            let i = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[i] ^= 1 << rng.below(8),
                1 => bytes[i] = rng.next() as u8,
                _ => bytes.truncate(i.max(1)),
            }
            if bytes[0] == 0 {
                bytes[0] = 1;
            }
            base62::encode(&bytes)
        };
        if peek(&mutated).is_ok() {
            structurally_valid += 1;
        }
        check(&verifier, &genuine, &mutated);
    }
    // The mutations must reach the signature check, not just the decoder.
    assert!(
        structurally_valid > iterations() / 20,
        "only {structurally_valid} mutations parsed"
    );
}
