//! The browser's view of the core. Thin: convert, call core, map errors to
//! real JS `Error`s with a stable `name` and `code`.
//!
//! Two modules come out of this crate:
//!
//! - the widget (feature `widget`, the default: `engine` and `panel`, which
//!   `cargo xtask wasm` builds as two modules, the panel's fetched only when
//!   the panel is about to open), through wasm-bindgen:
//!   structured values cross as JSON text, read and written by the small
//!   hand-written [`json`] module ([ADR 0005](../docs/adr/0005-json-reader-in-the-browser.md))
//!   and mapped in [`convert`] onto the same shapes the native bindings'
//!   serde JSON uses; plain values (URLs, names, templates) cross as
//!   strings; no web-sys, gloo-net or serde-wasm-bindgen
//!   ([ADR 0006](../docs/adr/0006-no-web-sys-gloo-serde-wasm-bindgen.md));
//! - the landing-page capture (`--no-default-features`): core's `peek`
//!   behind two plain exports, without wasm-bindgen (`capture`).
//!
//! Built without core's `signing` and `json` features: the browser only ever
//! peeks at a code its host's backend minted, and links no signing code.

#[cfg(not(any(feature = "engine", feature = "panel")))]
pub mod capture;
#[cfg(any(feature = "engine", feature = "panel"))]
pub mod convert;
#[cfg(any(feature = "engine", feature = "panel"))]
pub mod json;

#[cfg(feature = "engine")]
mod widget;
#[cfg(feature = "engine")]
pub use widget::*;

#[cfg(feature = "panel")]
mod panel;
#[cfg(feature = "panel")]
pub use panel::*;

#[cfg(any(feature = "engine", feature = "panel"))]
use wasm_bindgen::JsValue;

/// A JS `Error` with `name = "ReferralError"`, a machine-readable `code`
/// and a message joined from `parts`. Messages are joined, never formatted:
/// `format!` and the errors' `Display` would link core::fmt into the module
/// (issue 17); the JS reads `code` (and `field`), not the text.
#[cfg(any(feature = "engine", feature = "panel"))]
pub(crate) fn error(code: &str, parts: &[&str]) -> JsValue {
    let error = js_sys::Error::new(&parts.concat());
    error.set_name("ReferralError");
    let error = JsValue::from(error);
    set(&error, "code", code);
    error
}

#[cfg(any(feature = "engine", feature = "panel"))]
pub(crate) fn set(target: &JsValue, key: &str, value: &str) {
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(target, &key.into(), &value.into());
}

// Single-threaded: the module runs on the page's main thread only.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one
    // thread; nothing in this crate spawns workers sharing this memory.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
