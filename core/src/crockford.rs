//! Crockford base32 for typed codes: case-insensitive, no `U`, and the
//! easily confused `O`, `I`, `L` read as `0`, `1`, `1`.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Encodes `bytes` (MSB first, zero-padded to 5 bits) in groups of four
/// separated by `-`.
pub fn encode_grouped(bytes: &[u8]) -> String {
    let mut symbols = Vec::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            symbols.push(ALPHABET[((buffer >> bits) & 31) as usize]);
        }
    }
    if bits > 0 {
        symbols.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize]);
    }
    let mut out = String::with_capacity(symbols.len() + symbols.len() / 4);
    for (i, s) in symbols.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(*s));
    }
    out
}

fn value(c: char) -> Option<u32> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|a| char::from(*a) == c)
        .map(|p| p as u32)
}

/// Decodes what a person typed; `None` for a foreign character, more than
/// 40 symbols, or non-zero padding bits.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    let mut symbols = 0;
    for c in text.chars() {
        if c == '-' || c == ' ' {
            continue;
        }
        symbols += 1;
        if symbols > 40 {
            return None;
        }
        buffer = (buffer << 5) | value(c)?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits are padding and must be zero (one text per code).
    if symbols == 0 || bits >= 5 || buffer != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..24)) {
            let text = encode_grouped(&bytes);
            prop_assert_eq!(decode(&text), Some(bytes.clone()));
            prop_assert_eq!(decode(&text.to_lowercase()), Some(bytes));
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,50}") {
            let _ = decode(&text);
        }
    }

    #[test]
    fn reads_confusable_letters() {
        let text = encode_grouped(&[0x00, 0x11, 0x22]);
        let sloppy = text.replace('0', "o").replace('1', "l");
        assert_eq!(decode(&sloppy), decode(&text));
        assert_eq!(decode("U"), None);
    }
}
