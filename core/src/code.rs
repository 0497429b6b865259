//! The referral code: claims, the versioned binary layout, and `peek`.
//!
//! Layout (version 1), see `docs/code-format.md`:
//!
//! ```text
//! version:u8 | flags:u8 | key_id:varint | program_id:varint
//!   | referrer (varint u64, or len:u8 + 1..=32 bytes)
//!   | [campaign:varint] | issued_at - EPOCH:varint | tag:8 bytes
//! ```
//!
//! Parsing lives here and is free of any key so the browser widget can read a
//! code without linking signing code. Minting and verifying live in
//! [`crate::keyring`].

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::base62;

/// The only layout this crate writes and reads.
pub const CODE_VERSION: u8 = 1;
/// Issued-at is stored relative to 2024-01-01T00:00:00Z to keep it short.
pub const EPOCH_UNIX_SECONDS: u64 = 1_704_067_200;
/// Bytes of truncated HMAC-SHA256 at the end of a code (64 bits).
pub const TAG_LEN: usize = 8;
/// Longest opaque referrer id (a UUID is 16 bytes, a string up to 32).
pub const MAX_OPAQUE_REFERRER_LEN: usize = 32;

const FLAG_CHANNEL_MASK: u8 = 0b0000_1111;
const FLAG_OPAQUE_REFERRER: u8 = 0b0001_0000;
const FLAG_CAMPAIGN: u8 = 0b0010_0000;
const FLAG_RESERVED: u8 = 0b1100_0000;

/// Where a share came from; carried in the code so attribution knows which
/// channel produced the click.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The plain link, copied by the user.
    Link,
    Email,
    #[serde(rename = "linkedin")]
    LinkedIn,
    X,
    #[serde(rename = "whatsapp")]
    WhatsApp,
    Sms,
    /// The platform share sheet (Web Share API, Android/iOS share).
    NativeShare,
    Qr,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::Link,
        Channel::Email,
        Channel::LinkedIn,
        Channel::X,
        Channel::WhatsApp,
        Channel::Sms,
        Channel::NativeShare,
        Channel::Qr,
    ];

    /// Wire value (4 bits in the flags byte).
    pub fn to_wire(self) -> u8 {
        self as u8
    }

    pub fn from_wire(value: u8) -> Option<Channel> {
        Channel::ALL.get(usize::from(value)).copied()
    }

    /// Stable lower-case name, used in UTM parameters and reason codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Link => "link",
            Channel::Email => "email",
            Channel::LinkedIn => "linkedin",
            Channel::X => "x",
            Channel::WhatsApp => "whatsapp",
            Channel::Sms => "sms",
            Channel::NativeShare => "native_share",
            Channel::Qr => "qr",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who referred: a compact integer id, or an opaque id of 1 to 32 bytes
/// (a UUID's 16 bytes, or a short string id).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerId {
    Numeric(u64),
    Opaque(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl ReferrerId {
    /// An opaque id from a string of up to 32 bytes (e.g. `"usr_8f2k"`).
    pub fn from_text(text: &str) -> Result<ReferrerId, MintError> {
        ReferrerId::opaque(text.as_bytes().to_vec())
    }

    pub fn opaque(bytes: Vec<u8>) -> Result<ReferrerId, MintError> {
        if bytes.is_empty() || bytes.len() > MAX_OPAQUE_REFERRER_LEN {
            return Err(MintError::OpaqueReferrerLength { len: bytes.len() });
        }
        Ok(ReferrerId::Opaque(bytes))
    }

    /// A stable text form: the decimal number, `s:<text>` for UTF-8 opaque
    /// ids, or `x:<hex>` for other bytes. Hosts use it as a map key.
    pub fn to_key(&self) -> String {
        match self {
            ReferrerId::Numeric(n) => n.to_string(),
            ReferrerId::Opaque(bytes) => match core::str::from_utf8(bytes) {
                Ok(text) if text.chars().all(|c| !c.is_control()) => format!("s:{text}"),
                _ => format!("x:{}", hex_bytes::encode(bytes)),
            },
        }
    }
}

impl fmt::Debug for ReferrerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key())
    }
}

impl fmt::Display for ReferrerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key())
    }
}

/// What a code says. Only [`crate::keyring::Verifier`] turns these into
/// trusted facts; [`peek`] returns them wrapped in [`UnverifiedClaims`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub key_id: u32,
    pub program_id: u32,
    pub referrer: ReferrerId,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<u32>,
    /// Unix seconds.
    pub issued_at: u64,
}

/// Claims read from a code whose signature nobody checked. Anyone can forge
/// these; use them for display ("You've been referred by …") only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnverifiedClaims(Claims);

impl UnverifiedClaims {
    /// The claims as written in the code, not checked against any key.
    pub fn unverified(&self) -> &Claims {
        &self.0
    }

    pub fn into_unverified(self) -> Claims {
        self.0
    }
}

/// Why a code was refused. `reason()` is the stable machine-readable form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("malformed code: {0}")]
    Malformed(Malformation),
    #[error("unsupported code version {0}")]
    UnsupportedVersion(u8),
    #[error("code signed with unknown key {0}")]
    UnknownKey(u32),
    #[error("code signed with retired key {0}")]
    RetiredKey(u32),
    #[error("bad signature")]
    BadSignature,
    #[error("code expired at {expired_at} (issued {issued_at})")]
    Expired { issued_at: u64, expired_at: u64 },
    #[error("code issued at {issued_at}, in the future of {now} beyond the allowed skew")]
    IssuedInFuture { issued_at: u64, now: u64 },
    #[error("code is for program {found}, expected {expected}")]
    WrongProgram { expected: u32, found: u32 },
}

impl CodeError {
    /// Stable reason code shared by every binding and the test vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            CodeError::Malformed(_) => "malformed",
            CodeError::UnsupportedVersion(_) => "unsupported_version",
            CodeError::UnknownKey(_) => "unknown_key",
            CodeError::RetiredKey(_) => "retired_key",
            CodeError::BadSignature => "bad_signature",
            CodeError::Expired { .. } => "expired",
            CodeError::IssuedInFuture { .. } => "issued_in_future",
            CodeError::WrongProgram { .. } => "wrong_program",
        }
    }
}

/// What exactly was wrong with a malformed code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformation {
    #[error("not canonical base62 or too long")]
    NotBase62,
    #[error("truncated")]
    Truncated,
    #[error("reserved flag bits set")]
    ReservedFlags,
    #[error("unknown channel {0}")]
    UnknownChannel(u8),
    #[error("invalid or non-canonical varint")]
    BadVarint,
    #[error("opaque referrer length out of range")]
    BadReferrerLength,
    #[error("trailing bytes after the tag")]
    TrailingBytes,
}

/// Why a code could not be minted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("opaque referrer id must be 1 to 32 bytes, got {len}")]
    OpaqueReferrerLength { len: usize },
    #[error("issued-at {0} is before the code epoch 2024-01-01")]
    BeforeEpoch(u64),
}

impl MintError {
    pub fn reason(&self) -> &'static str {
        match self {
            MintError::OpaqueReferrerLength { .. } => "opaque_referrer_length",
            MintError::BeforeEpoch(_) => "before_epoch",
        }
    }
}

/// A minted code, as text that is safe in a URL path or query.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReferralCode(pub(crate) String);

impl ReferralCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ReferralCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serialises the signed part of a code (everything but the tag).
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) fn encode_payload(claims: &Claims) -> Result<Vec<u8>, MintError> {
    let since_epoch = claims
        .issued_at
        .checked_sub(EPOCH_UNIX_SECONDS)
        .ok_or(MintError::BeforeEpoch(claims.issued_at))?;
    let mut out = Vec::with_capacity(24);
    let mut flags = claims.channel.to_wire();
    if matches!(claims.referrer, ReferrerId::Opaque(_)) {
        flags |= FLAG_OPAQUE_REFERRER;
    }
    if claims.campaign.is_some() {
        flags |= FLAG_CAMPAIGN;
    }
    out.push(CODE_VERSION);
    out.push(flags);
    put_varint(&mut out, u64::from(claims.key_id));
    put_varint(&mut out, u64::from(claims.program_id));
    match &claims.referrer {
        ReferrerId::Numeric(id) => put_varint(&mut out, *id),
        ReferrerId::Opaque(bytes) => {
            if bytes.is_empty() || bytes.len() > MAX_OPAQUE_REFERRER_LEN {
                return Err(MintError::OpaqueReferrerLength { len: bytes.len() });
            }
            // Length checked above: fits in a byte.
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
    }
    if let Some(campaign) = claims.campaign {
        put_varint(&mut out, u64::from(campaign));
    }
    put_varint(&mut out, since_epoch);
    Ok(out)
}

#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) fn encode_code(payload: &[u8], tag: &[u8]) -> ReferralCode {
    let mut bytes = Vec::with_capacity(payload.len() + tag.len());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(tag);
    ReferralCode(base62::encode(&bytes))
}

/// A code split into its parts; the payload is what the tag signs. The
/// bytes live on the stack: parsing allocates only for an opaque referrer.
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) struct ParsedCode {
    pub claims: Claims,
    buffer: [u8; base62::MAX_DECODED_LEN],
    start: usize,
    payload_end: usize,
}

#[cfg_attr(not(feature = "signing"), allow(dead_code))]
impl ParsedCode {
    pub fn payload(&self) -> &[u8] {
        &self.buffer[self.start..self.payload_end]
    }
    pub fn tag(&self) -> &[u8] {
        &self.buffer[self.payload_end..]
    }
}

pub(crate) fn parse(code: &str) -> Result<ParsedCode, CodeError> {
    parse_with(code, |bytes| ReferrerId::Opaque(bytes.to_vec()))
}

/// [`parse`], with `opaque` making the referrer from an opaque id's bytes
/// (which are already checked for length).
fn parse_with(
    code: &str,
    opaque: impl FnOnce(&[u8]) -> ReferrerId,
) -> Result<ParsedCode, CodeError> {
    let mut buffer = [0u8; base62::MAX_DECODED_LEN];
    let len = base62::decode_into(code, &mut buffer)
        .ok_or(CodeError::Malformed(Malformation::NotBase62))?;
    let start = base62::MAX_DECODED_LEN - len;
    // `decode_into` returns at most MAX_DECODED_LEN: `get` cannot miss, and
    // links no panic path into the browser's capture module.
    let bytes = buffer.get(start..).unwrap_or_default();
    let mut reader = Reader { bytes, pos: 0 };
    let version = reader.byte()?;
    if version != CODE_VERSION {
        return Err(CodeError::UnsupportedVersion(version));
    }
    let flags = reader.byte()?;
    if flags & FLAG_RESERVED != 0 {
        return Err(CodeError::Malformed(Malformation::ReservedFlags));
    }
    let channel_wire = flags & FLAG_CHANNEL_MASK;
    let channel = Channel::from_wire(channel_wire).ok_or(CodeError::Malformed(
        Malformation::UnknownChannel(channel_wire),
    ))?;
    let key_id = reader.varint_u32()?;
    let program_id = reader.varint_u32()?;
    let referrer = if flags & FLAG_OPAQUE_REFERRER != 0 {
        let len = usize::from(reader.byte()?);
        if len == 0 || len > MAX_OPAQUE_REFERRER_LEN {
            return Err(CodeError::Malformed(Malformation::BadReferrerLength));
        }
        opaque(reader.take(len)?)
    } else {
        ReferrerId::Numeric(reader.varint()?)
    };
    let campaign = if flags & FLAG_CAMPAIGN != 0 {
        Some(reader.varint_u32()?)
    } else {
        None
    };
    let issued_at = reader
        .varint()?
        .checked_add(EPOCH_UNIX_SECONDS)
        .ok_or(CodeError::Malformed(Malformation::BadVarint))?;
    let payload_len = reader.pos;
    let remaining = bytes.len() - payload_len;
    if remaining < TAG_LEN {
        return Err(CodeError::Malformed(Malformation::Truncated));
    }
    if remaining > TAG_LEN {
        return Err(CodeError::Malformed(Malformation::TrailingBytes));
    }
    Ok(ParsedCode {
        claims: Claims {
            key_id,
            program_id,
            referrer,
            channel,
            campaign,
            issued_at,
        },
        buffer,
        start,
        payload_end: start + payload_len,
    })
}

/// Whether `code` reads as a referral code: [`peek`]'s answer (and error)
/// without the claims. Allocates nothing, so the browser's landing-page
/// capture module links no allocation-failure or panic path.
pub fn check(code: &str) -> Result<(), CodeError> {
    // Forgotten, not dropped: its referrer is never an allocation here, and
    // no drop keeps the allocator's free out of the capture module.
    parse_with(code, |_| ReferrerId::Numeric(0)).map(core::mem::forget)
}

/// Reads a code's claims without any key. The result is **unverified**:
/// use it to show "referred by …", never to grant anything.
pub fn peek(code: &str) -> Result<UnverifiedClaims, CodeError> {
    parse(code).map(|parsed| UnverifiedClaims(parsed.claims))
}

#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[cfg_attr(not(feature = "signing"), allow(dead_code))]
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    #[cfg_attr(not(feature = "signing"), allow(dead_code))]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn byte(&mut self) -> Result<u8, CodeError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(CodeError::Malformed(Malformation::Truncated))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], CodeError> {
        let slice = self
            .pos
            .checked_add(len)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or(CodeError::Malformed(Malformation::Truncated))?;
        let end = self.pos + len;
        self.pos = end;
        Ok(slice)
    }

    /// LEB128, canonical only: no overlong forms, no overflow past u64.
    pub(crate) fn varint(&mut self) -> Result<u64, CodeError> {
        let bad = CodeError::Malformed(Malformation::BadVarint);
        let mut value: u64 = 0;
        for index in 0..10u32 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if index == 9 && b > 1 {
                return Err(bad);
            }
            value |= bits << (7 * index);
            if b & 0x80 == 0 {
                if index > 0 && b == 0 {
                    return Err(bad);
                }
                return Ok(value);
            }
        }
        Err(bad)
    }

    pub(crate) fn varint_u32(&mut self) -> Result<u32, CodeError> {
        u32::try_from(self.varint()?).map_err(|_| CodeError::Malformed(Malformation::BadVarint))
    }
}

/// Lower-case hex for opaque ids in JSON (vectors, host storage).
/// How opaque referrer ids appear in JSON: lower-case hex.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn encode(bytes: &[u8]) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        if !text.len().is_multiple_of(2) {
            return None;
        }
        text.as_bytes()
            .chunks(2)
            .map(|pair| {
                let hi = (pair[0] as char).to_digit(16)?;
                let lo = (pair[1] as char).to_digit(16)?;
                Some((hi * 16 + lo) as u8)
            })
            .collect()
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode(&text).ok_or_else(|| serde::de::Error::custom("invalid hex"))
    }
}
