//! The browser's view of the core, through wasm-bindgen. Thin: convert,
//! call core, map errors to real JS `Error`s with a stable `name` and
//! `code`. Structured values cross as JSON text, read and written by the
//! small hand-written [`json`] module and mapped in [`convert`] onto the
//! same shapes the native bindings' serde JSON uses (no serde_json, no
//! serde-wasm-bindgen in the module: see BENCHMARKS.md for what they cost).
//! Plain values (URLs, names, templates) cross as strings.
//!
//! Built without core's `signing` and `json` features: the widget only ever
//! peeks at a code its host's backend minted, and links no signing code.

pub mod convert;
pub mod json;

#[cfg(feature = "widget")]
mod widget;
#[cfg(feature = "widget")]
pub use widget::*;

use referral_core::{peek as core_peek, url};
use wasm_bindgen::prelude::*;

/// A referral code found in `page_url`'s `param`, if it has the shape of
/// one: `{code, claims, clean_url}` as JSON, or `undefined`. `clean_url` is
/// the URL without the parameter, for `history.replaceState`.
#[wasm_bindgen]
pub fn capture(page_url: &str, param: &str) -> Option<String> {
    let code = url::query_param(page_url, param)?;
    let claims = core_peek(&code).ok()?;
    let clean_url = url::remove_query_params(page_url, &[param]);
    Some(convert::captured_json(
        &code,
        claims.unverified(),
        &clean_url,
    ))
}

// Single-threaded: the module runs on the page's main thread only.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one
    // thread; nothing in this crate spawns workers sharing this memory.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
