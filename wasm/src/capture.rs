//! The landing-page capture's module: core's [`peek`](referral_core::peek)
//! behind two plain exports, with no wasm-bindgen (its glue alone would be
//! most of the capture's budget). `wasm/js/capture.js` writes the parameter's
//! UTF-8 bytes into [`input`] and asks [`check`] whether core reads them as
//! a referral code; everything else the capture does (storage, cookie, URL
//! clean-up) is plain DOM work in the JS.

/// Bytes the JS may write at [`input`]: more than any code has (core
/// refuses anything over `base62::MAX_TEXT_LEN` characters); the JS refuses
/// a text that does not fit.
pub const INPUT_LEN: usize = 2 * referral_core::base62::MAX_TEXT_LEN;

struct Input(core::cell::UnsafeCell<[u8; INPUT_LEN]>);

// SAFETY: the module runs on one thread (wasm32-unknown-unknown without
// atomics), and the JS writes the buffer only between calls.
unsafe impl Sync for Input {}

static INPUT: Input = Input(core::cell::UnsafeCell::new([0; INPUT_LEN]));

/// Where the JS writes the text to check ([`INPUT_LEN`] bytes).
#[no_mangle]
pub extern "C" fn input() -> *mut u8 {
    INPUT.0.get().cast()
}

/// How many bytes [`input`] holds.
#[no_mangle]
pub extern "C" fn input_len() -> usize {
    INPUT_LEN
}

/// 1 when the first `len` bytes at [`input`] are a referral code by core's
/// `code::check` (peek's decision: the shape only; the signature is the
/// backend's to verify), else 0.
#[no_mangle]
pub extern "C" fn check(len: usize) -> u32 {
    // SAFETY: see `Input`; no other reference to the buffer is alive.
    let bytes = unsafe { &*INPUT.0.get() };
    let Some(bytes) = bytes.get(..len) else {
        return 0;
    };
    // Non-ASCII text is not base62, so core refuses it too; checking that
    // first makes the `&str` sound without linking UTF-8 validation.
    if !bytes.is_ascii() {
        return 0;
    }
    // SAFETY: ASCII bytes are valid UTF-8.
    let text = unsafe { core::str::from_utf8_unchecked(bytes) };
    u32::from(referral_core::code::check(text).is_ok())
}
