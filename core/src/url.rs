//! The little URL handling the SDK needs, without the `url` crate (whose IDNA
//! tables would triple the browser widget's size): strict percent-encoding
//! (RFC 3986 unreserved characters only, as RFC 6068 asks for `mailto:`),
//! decoding, and query-parameter edits on an absolute http(s) URL.

/// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~`.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_as_space`, the form
/// encoding browsers use in query strings). Invalid escapes or invalid UTF-8
/// give `None`.
pub fn decode_component(value: &str, plus_as_space: bool) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hi = char::from(hex[0]).to_digit(16)?;
                let lo = char::from(hex[1]).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Splits `url` into (before the query, query without `?`, fragment with `#`).
fn split_url(url: &str) -> (&str, Option<&str>, &str) {
    // split_once rather than index slicing: no char-boundary panic path is
    // linked (it drags Unicode tables into the browser module).
    let (rest, fragment) = match url.find('#') {
        Some(i) => url.split_at_checked(i).unwrap_or((url, "")),
        None => (url, ""),
    };
    match rest.split_once('?') {
        Some((before, query)) => (before, Some(query), fragment),
        None => (rest, None, fragment),
    }
}

/// The decoded `(name, value)` pairs of a URL's query, in order. Pairs that
/// do not decode are skipped.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    let (_, query, _) = split_url(url);
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                decode_component(name, true)?,
                decode_component(value, true)?,
            ))
        })
        .collect()
}

/// The first value of query parameter `name`, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Returns `url` with every parameter in `names` removed (the rest of the
/// query, its order and the fragment are kept byte for byte). Used to take
/// `?ref=` out of the visible URL after capture.
pub fn remove_query_params(url: &str, names: &[&str]) -> String {
    let (base, query, fragment) = split_url(url);
    let kept: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let raw_name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            let name = decode_component(raw_name, true);
            !names.iter().any(|n| name.as_deref() == Some(*n))
        })
        .collect();
    let mut out = String::from(base);
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    out
}

/// Sets query parameters on `url`, replacing any existing ones of the same
/// names, keeping the fragment last.
pub fn set_query_params(url: &str, params: &[(&str, &str)]) -> String {
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    let stripped = remove_query_params(url, &names);
    let (base, query, fragment) = split_url(&stripped);
    let mut out = String::from(base);
    let mut separator = '?';
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(query);
        separator = '&';
    }
    for (name, value) in params {
        out.push(separator);
        out.push_str(&encode_component(name));
        out.push('=');
        out.push_str(&encode_component(value));
        separator = '&';
    }
    out.push_str(fragment);
    out
}

/// An absolute `http:` or `https:` URL with a host and no whitespace or
/// control characters. Returns the reason it is not.
pub fn check_base_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if host_end == 0 {
        return Err("must have a host");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sets_and_replaces_params_before_the_fragment() {
        assert_eq!(
            set_query_params("https://a.example/p?x=1&ref=old#top", &[("ref", "NEW")]),
            "https://a.example/p?x=1&ref=NEW#top"
        );
        assert_eq!(
            set_query_params("https://a.example", &[("ref", "C"), ("utm_medium", "x")]),
            "https://a.example?ref=C&utm_medium=x"
        );
    }

    #[test]
    fn removes_only_the_named_params() {
        assert_eq!(
            remove_query_params("https://a.example/?a=1&ref=C&b=2#f", &["ref"]),
            "https://a.example/?a=1&b=2#f"
        );
        assert_eq!(
            remove_query_params("https://a.example/?ref=C", &["ref"]),
            "https://a.example/"
        );
    }

    #[test]
    fn checks_base_urls() {
        assert!(check_base_url("https://app.example.com/join").is_ok());
        assert!(check_base_url("javascript:alert(1)").is_err());
        assert!(check_base_url("https:///x").is_err());
        assert!(check_base_url("https://a.example/ x").is_err());
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(value in "\\PC{0,40}") {
            prop_assert_eq!(decode_component(&encode_component(&value), false), Some(value));
        }

        #[test]
        fn decode_never_panics(value in ".{0,40}") {
            let _ = decode_component(&value, true);
            let _ = query_pairs(&value);
            let _ = remove_query_params(&value, &["ref"]);
        }
    }
}
