//! Base62 over arbitrary byte strings (alphabet `0-9A-Za-z`, the same as the
//! `base62` crate's standard alphabet).
//!
//! The `base62` crate only encodes a `u128`, and codes with opaque referrer
//! ids are longer than 16 bytes, so the byte string is treated as one
//! big-endian integer here. Limbs of 10 digits (62^10 < 2^64) keep both
//! directions at a few multiply-adds per limb; the tests check this against
//! the crate for every input that fits in a `u128`.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS_PER_LIMB: usize = 10;

/// Largest input accepted by [`decode`]; bounds work and memory.
pub const MAX_TEXT_LEN: usize = 128;

/// Digit values by byte; 0xff marks bytes outside the alphabet.
const DIGIT_VALUES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 62 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn digit_value(c: u8) -> Option<u64> {
    match DIGIT_VALUES[usize::from(c)] {
        0xff => None,
        value => Some(u64::from(value)),
    }
}

/// Encodes a byte string whose first byte is non-zero (leading zero bytes
/// would be lost, so callers put a non-zero version byte first).
pub fn encode(bytes: &[u8]) -> String {
    debug_assert!(bytes.first().is_some_and(|b| *b != 0));
    // Little-endian base-2^32 limbs of the number; divided by 62^5 repeatedly.
    let mut number: Vec<u32> = bytes
        .rchunks(4)
        .map(|chunk| chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        .collect();
    const CHUNK: u64 = 916_132_832; // 62^5 fits in u32
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 4 / 3 + 2);
    while number.iter().any(|limb| *limb != 0) {
        let mut remainder: u64 = 0;
        for limb in number.iter_mut().rev() {
            let acc = (remainder << 32) | u64::from(*limb);
            *limb = (acc / CHUNK) as u32;
            remainder = acc % CHUNK;
        }
        while number.last() == Some(&0) {
            number.pop();
        }
        for _ in 0..5 {
            digits.push(ALPHABET[(remainder % 62) as usize]);
            remainder /= 62;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    digits.reverse();
    // Every byte pushed comes from ALPHABET, which is ASCII.
    digits.into_iter().map(char::from).collect()
}

/// Most bytes a text of [`MAX_TEXT_LEN`] characters can decode to.
/// 62^128 < 2^763, so 128 digits fit in 96 bytes (12 limbs of 64 bits).
pub const MAX_DECODED_LEN: usize = 96;
const MAX_LIMBS: usize = MAX_DECODED_LEN / 8;

/// Decodes text produced by [`encode`]. Returns `None` for an empty or
/// over-long text, a character outside the alphabet, or a non-canonical
/// leading `0` (so each byte string has exactly one text).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut buffer = [0u8; MAX_DECODED_LEN];
    let len = decode_into(text, &mut buffer)?;
    Some(buffer[MAX_DECODED_LEN - len..].to_vec())
}

/// Allocation-free [`decode`]: writes the bytes right-aligned at the end of
/// `out` and returns how many there are.
pub fn decode_into(text: &str, out: &mut [u8; MAX_DECODED_LEN]) -> Option<usize> {
    let text = text.as_bytes();
    if text.len() > MAX_TEXT_LEN || text.first().is_none_or(|c| *c == b'0') {
        return None;
    }
    // Little-endian base-2^64 limbs.
    let mut number = [0u64; MAX_LIMBS];
    let mut used = 0usize;
    let first = match text.len() % DIGITS_PER_LIMB {
        0 => DIGITS_PER_LIMB,
        n => n,
    };
    let mut start = 0;
    let mut end = first;
    while start < text.len() {
        let mut value: u64 = 0;
        let mut multiplier: u64 = 1;
        // In range by construction; `get` keeps the browser build free of
        // panic paths (and their formatting code).
        for &c in text.get(start..end)? {
            value = value * 62 + digit_value(c)?;
            multiplier *= 62;
        }
        let mut carry = u128::from(value);
        for limb in number.iter_mut().take(used) {
            let acc = u128::from(*limb) * u128::from(multiplier) + carry;
            *limb = acc as u64;
            carry = acc >> 64;
        }
        if carry != 0 {
            // 128 digits need at most 12 limbs; `get_mut` keeps it panic-free.
            *number.get_mut(used)? = carry as u64;
            used += 1;
        }
        start = end;
        end += DIGITS_PER_LIMB;
    }
    let mut pos = MAX_DECODED_LEN;
    for limb in number.iter().take(used) {
        for b in limb.to_le_bytes() {
            pos = pos.checked_sub(1)?;
            *out.get_mut(pos)? = b;
        }
    }
    let leading = out.iter().skip(pos).take_while(|b| **b == 0).count();
    Some(MAX_DECODED_LEN - pos - leading)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(mut bytes in proptest::collection::vec(any::<u8>(), 1..70)) {
            if bytes[0] == 0 { bytes[0] = 1; }
            let text = encode(&bytes);
            prop_assert_eq!(decode(&text), Some(bytes));
        }

        #[test]
        fn matches_the_base62_crate_for_u128(value in 1u128..) {
            let bytes = value.to_be_bytes();
            let start = bytes.iter().take_while(|b| **b == 0).count();
            prop_assert_eq!(encode(&bytes[start..]), base62::encode(value));
        }

        #[test]
        fn decode_never_panics(text in ".{0,140}") {
            let _ = decode(&text);
        }
    }

    #[test]
    fn rejects_non_canonical_and_foreign_text() {
        assert_eq!(decode(""), None);
        assert_eq!(decode("0A"), None);
        assert_eq!(decode("A-B"), None);
        assert_eq!(decode(&"z".repeat(MAX_TEXT_LEN + 1)), None);
    }
}
