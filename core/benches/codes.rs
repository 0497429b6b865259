//! mint / verify / peek beside the physical floor (HMAC-SHA256 over the same
//! bytes with a precomputed key state) and beside what a developer would use
//! instead (jsonwebtoken HS256). Run: `cargo bench -p referral-core --bench codes`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use referral_core::{peek, Channel, Keyring, MintRequest, ReferrerId, Verifier, VerifyPolicy};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const SECRET: [u8; 32] = [0x5a; 32];
const NOW: u64 = 1_780_000_000;

#[derive(Serialize, Deserialize)]
struct JwtClaims {
    kid: u32,
    prg: u32,
    sub: u64,
    chn: String,
    iat: u64,
    exp: u64,
}

fn bench_codes(c: &mut Criterion) {
    let verifier = Verifier::new(
        Keyring::new(1, &SECRET).expect("32-byte secret"),
        VerifyPolicy::for_program(7),
    );
    let request = MintRequest {
        program_id: 7,
        referrer: ReferrerId::Numeric(1_000_000),
        channel: Channel::Email,
        campaign: None,
    };
    let code = verifier.mint(&request, NOW).expect("mint");
    let code = code.as_str().to_owned();
    let decoded = referral_core::base62::decode(&code).expect("decodes");
    let payload = decoded[..decoded.len() - 8].to_vec();

    let mut group = c.benchmark_group("codes");
    group.bench_function("mint", |b| {
        b.iter(|| verifier.mint(black_box(&request), NOW))
    });
    group.bench_function("verify", |b| {
        b.iter(|| verifier.verify(black_box(&code), NOW + 60))
    });
    group.bench_function("peek", |b| b.iter(|| peek(black_box(&code))));

    let keyed = Hmac::<Sha256>::new_from_slice(&SECRET).expect("any key length");
    group.bench_function("raw_hmac_sha256_same_bytes", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(&payload));
            mac.finalize().into_bytes()
        })
    });

    let claims = JwtClaims {
        kid: 1,
        prg: 7,
        sub: 1_000_000,
        chn: "email".into(),
        iat: NOW,
        exp: NOW + 365 * 86_400,
    };
    let encoding_key = EncodingKey::from_secret(&SECRET);
    let decoding_key = DecodingKey::from_secret(&SECRET);
    let header = Header::new(Algorithm::HS256);
    let token = jsonwebtoken::encode(&header, &claims, &encoding_key).expect("jwt encode");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    group.bench_function("jsonwebtoken_hs256_encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&claims), &encoding_key))
    });
    group.bench_function("jsonwebtoken_hs256_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding_key, &validation))
    });
    group.finish();
    eprintln!(
        "code length {} chars; JWT length {} chars",
        code.len(),
        token.len()
    );
}

criterion_group!(benches, bench_codes);
criterion_main!(benches);
