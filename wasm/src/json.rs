//! A small JSON reader and writer for the values that cross into the
//! browser module: a config, a state, an event, a decision.
//!
//! Why a reader of our own rather than serde_json or serde-wasm-bindgen,
//! with the measured cost of each: docs/adr/0005-json-reader-in-the-browser.md.
//! Text crosses the boundary once; this reader builds a small tree, and
//! `convert` maps it onto core's types with the same field names, defaults
//! and refusals as the serde derives.
//!
//! Never panics: every index is checked, nesting is limited, and numbers
//! with a fraction or exponent are handed to the JS engine's `parseFloat`
//! (correctly rounded, like serde_json's parser) instead of linking Rust's
//! float parser.

/// A parsed JSON value. Objects keep their fields in document order.
/// Numbers are classified as serde_json classifies them: an integer literal
/// that fits `u64` is `UInt`, a negative one that fits `i64` is `NegInt`
/// (but `-0` is a float), anything else (a fraction, an exponent, out of
/// range) is `Float`, so a field typed `u32` refuses `3.0` in both.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    UInt(u64),
    NegInt(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Deeper nesting is refused (no stack risk), at serde_json's own limit so
/// both accept the same documents.
const MAX_DEPTH: usize = 127;

/// Why text is not JSON: a fixed message and the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub problem: &'static str,
    pub at: usize,
}

pub fn parse(text: &str) -> Result<Json, SyntaxError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.space();
    if parser.pos != parser.bytes.len() {
        return Err(parser.fail("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn fail(&self, problem: &'static str) -> SyntaxError {
        SyntaxError {
            problem,
            at: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8], value: Json) -> Result<Json, SyntaxError> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.fail("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.space();
        // Only containers count towards the limit, as in serde_json.
        if matches!(self.peek(), Some(b'{' | b'[')) && depth >= MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut fields = Vec::new();
                if self.eat(b'}') {
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.space();
                    if self.peek() != Some(b'"') {
                        return Err(self.fail("expected a field name"));
                    }
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.fail("expected ':'"));
                    }
                    fields.push((key, self.value(depth + 1)?));
                    if self.eat(b',') {
                        continue;
                    }
                    if self.eat(b'}') {
                        return Ok(Json::Obj(fields));
                    }
                    return Err(self.fail("expected ',' or '}'"));
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b',') {
                        continue;
                    }
                    if self.eat(b']') {
                        return Ok(Json::Arr(items));
                    }
                    return Err(self.fail("expected ',' or ']'"));
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.fail("expected a value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, SyntaxError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.bytes.get(int_start) == Some(&b'0')) {
            return Err(self.fail("invalid number"));
        }
        let int_end = self.pos;
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
            integer = false;
        }
        if integer {
            let mut magnitude: Option<u64> = Some(0);
            for &b in self.bytes.get(int_start..int_end).unwrap_or_default() {
                magnitude = magnitude
                    .and_then(|n| n.checked_mul(10))
                    .and_then(|n| n.checked_add(u64::from(b - b'0')));
            }
            match (negative, magnitude) {
                (false, Some(n)) => return Ok(Json::UInt(n)),
                (true, Some(n)) if n != 0 => {
                    if let Some(i) = 0i64.checked_sub_unsigned(n) {
                        return Ok(Json::NegInt(i));
                    }
                }
                // `-0`, or out of range: a float, as in serde_json.
                _ => {}
            }
        }
        // The slice is ASCII digits and signs, so on char boundaries.
        let literal = self.text.get(start..self.pos).unwrap_or("NaN");
        let n = parse_float(literal);
        if n.is_finite() {
            Ok(Json::Float(n))
        } else {
            Err(SyntaxError {
                problem: "number out of range",
                at: start,
            })
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.fail("invalid \\u escape")),
            };
            code = code * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(code)
    }

    /// At an opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control byte
            // whole: it is valid UTF-8 and ends on a char boundary (all three
            // stop bytes are ASCII).
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(run_start..self.pos).unwrap_or(""));
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self.peek();
                    self.pos += 1;
                    match escaped {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let first = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&first) {
                                // A high surrogate must pair with a low one.
                                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.fail("lone surrogate"));
                                }
                                self.pos += 2;
                                let second = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&second) {
                                    return Err(self.fail("lone surrogate"));
                                }
                                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                            } else {
                                first
                            };
                            match char::from_u32(code) {
                                Some(c) => out.push(c),
                                None => return Err(self.fail("lone surrogate")),
                            }
                        }
                        _ => return Err(self.fail("invalid escape")),
                    }
                }
                Some(_) => return Err(self.fail("control character in string")),
                None => return Err(self.fail("unterminated string")),
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn parse_float(literal: &str) -> f64 {
    js_sys::parse_float(literal)
}

// Off the browser (unit tests on the host), Rust's own parser.
#[cfg(not(target_arch = "wasm32"))]
fn parse_float(literal: &str) -> f64 {
    literal.parse().unwrap_or(f64::NAN)
}

/// Builds JSON text; commas are placed by looking at the last byte.
#[derive(Default)]
pub struct Writer(String);

impl Writer {
    pub fn new() -> Writer {
        Writer(String::with_capacity(256))
    }

    pub fn finish(self) -> String {
        self.0
    }

    fn separate(&mut self) {
        if !matches!(self.0.as_bytes().last(), None | Some(b'{' | b'[' | b':')) {
            self.0.push(',');
        }
    }

    pub fn open(&mut self) -> &mut Self {
        self.separate();
        self.0.push('{');
        self
    }

    pub fn close(&mut self) -> &mut Self {
        self.0.push('}');
        self
    }

    pub fn open_list(&mut self) -> &mut Self {
        self.separate();
        self.0.push('[');
        self
    }

    pub fn close_list(&mut self) -> &mut Self {
        self.0.push(']');
        self
    }

    pub fn key(&mut self, key: &str) -> &mut Self {
        self.string(key);
        self.0.push(':');
        self
    }

    /// A string, escaped as serde_json escapes it.
    pub fn string(&mut self, text: &str) -> &mut Self {
        self.separate();
        self.0.push('"');
        for c in text.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                '\u{8}' => self.0.push_str("\\b"),
                '\u{c}' => self.0.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.0.push_str("\\u00");
                    self.0.push(HEX[(c as usize) >> 4] as char);
                    self.0.push(HEX[(c as usize) & 15] as char);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
        self
    }

    pub fn uint(&mut self, n: u64) -> &mut Self {
        self.separate();
        push_digits(&mut self.0, n);
        self
    }

    pub fn int(&mut self, n: i64) -> &mut Self {
        self.separate();
        if n < 0 {
            self.0.push('-');
        }
        push_digits(&mut self.0, n.unsigned_abs());
        self
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.separate();
        self.0.push_str(if value { "true" } else { "false" });
        self
    }
}

/// Appends `n` in decimal (no float or `fmt` machinery).
pub fn push_digits(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let cases = [
            r#"{"a":[1,-2,3.5,1e3,true,false,null],"b":{"c":"d\"\\\/\b\f\n\r\t\u00e9\ud83d\udc4b"}}"#,
            r#"  [ ]  "#,
            r#"{"n": 9007199254740993, "m": -0, "z": 0.1}"#,
            r#""Zoë 👋 مرحبا""#,
        ];
        for text in cases {
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(sorted(parse(text).unwrap()), from_serde(&theirs), "{text}");
        }
    }

    /// Fields in key order, as serde_json's map keeps them.
    fn sorted(value: Json) -> Json {
        match value {
            Json::Arr(items) => Json::Arr(items.into_iter().map(sorted).collect()),
            Json::Obj(mut fields) => {
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Obj(fields.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            other => other,
        }
    }

    fn from_serde(value: &serde_json::Value) -> Json {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Json::UInt(u),
                (None, Some(i)) => Json::NegInt(i),
                _ => Json::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Json::Str(s.clone()),
            Value::Array(items) => Json::Arr(items.iter().map(from_serde).collect()),
            Value::Object(fields) => Json::Obj(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), from_serde(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\u{1}b\"",
            "{a:1}",
            "[1 2]",
            "1 2",
            "1e999",
            "{\"a\" 1}",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_err() || text == "1e999");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(parse(&deep).unwrap_err().problem, "nested too deeply");
        // The same nesting limit as serde_json.
        for depth in 120..140 {
            for inner in ["", "1", "{}", "{\"a\":[]}"] {
                let text = format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
                let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
                assert_eq!(parse(&text).is_ok(), theirs, "depth {depth} around {inner}");
            }
        }
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let text = "Zoë \"Z\" \\ \n\t\u{1}\u{1f} 👋";
        let mut w = Writer::new();
        w.open()
            .key("s")
            .string(text)
            .key("n")
            .uint(u64::MAX)
            .key("i")
            .int(-42)
            .key("l")
            .open_list()
            .uint(1)
            .bool(true)
            .open()
            .close()
            .close_list()
            .close();
        let ours = w.finish();
        let expected = serde_json::json!({"s": text, "n": u64::MAX, "i": -42, "l": [1, true, {}]});
        let read: serde_json::Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(read, expected);
        // Byte for byte the escapes serde_json writes.
        assert!(
            ours.contains(&serde_json::to_string(text).unwrap()),
            "{ours}"
        );
    }

    /// Mutated documents: never a panic, and whatever serde_json reads as a
    /// value this reader reads the same (and refuses what it refuses).
    #[test]
    fn agrees_with_serde_json_on_mutated_documents() {
        // Every small object or list inside the shared vectors, plus escapes
        // and exponents they lack.
        let mut seeds =
            vec![r#"{"a":[1,-2.5e-3,"x\u00e9\n\ud83d\udc4b",{"b":null}],"c":true}"#.to_owned()];
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).unwrap();
        let mut stack = vec![&vectors];
        while let Some(value) = stack.pop() {
            let text = value.to_string();
            if text.len() < 400 && (value.is_object() || value.is_array()) {
                seeds.push(text);
            }
            match value {
                serde_json::Value::Object(fields) => stack.extend(fields.values()),
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        assert!(seeds.len() > 500);
        let alphabet = b"{}[]:,\"\\0123456789.eE+-tfnu \n\x01abc\xc3\xa9";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut agreed = 0;
        for round in 0..100_000 {
            let mut doc = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % doc.len();
                doc[at] = alphabet[(next() as usize) % alphabet.len()];
            }
            let Ok(text) = std::str::from_utf8(&doc) else {
                continue;
            };
            let ours = parse(text);
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(theirs) => {
                    assert_eq!(ours.map(sorted), Ok(from_serde(&theirs)), "{text:?}");
                    agreed += 1;
                }
                // serde_json reads 1e400 as an error too; we refuse all its refusals.
                Err(_) => assert!(ours.is_err(), "{text:?} was accepted"),
            }
        }
        assert!(agreed > 1_000, "too few valid documents: {agreed}");
    }
}
