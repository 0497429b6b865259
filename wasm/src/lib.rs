//! The browser's view of the core. Thin: convert, call core, map errors to
//! real JS `Error`s with a stable `name` and `code`.
//!
//! Two modules come out of this crate:
//!
//! - the widget (feature `widget`, the default), through wasm-bindgen:
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

#[cfg(not(feature = "widget"))]
pub mod capture;
#[cfg(feature = "widget")]
pub mod convert;
#[cfg(feature = "widget")]
pub mod json;

#[cfg(feature = "widget")]
mod widget;
#[cfg(feature = "widget")]
pub use widget::*;

// Single-threaded: the module runs on the page's main thread only.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one
    // thread; nothing in this crate spawns workers sharing this memory.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
