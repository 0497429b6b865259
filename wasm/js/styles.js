// @ts-check
// The widget's styles, adopted by each shadow root as a constructable
// stylesheet: no <style> element, so a strict CSP (no 'unsafe-inline') works,
// and nothing leaks into or out of the host page.
export const CSS = `
:host { all: initial; display: inline-block;
  font: 400 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --text: var(--referral-text, #1f2328); color: var(--text); --accent: var(--referral-accent, #1a56db);
  --accent-text: var(--referral-accent-text, #ffffff); --surface: var(--referral-surface, #ffffff);
  --border: var(--referral-border, #6e7781); --radius: var(--referral-radius, 10px); }
:host([hidden]) { display: none; }
:host([floating]) { position: fixed; inset-block-end: 20px; inset-inline-end: 20px; z-index: 2147483000; }
*, *::before, *::after { box-sizing: border-box; }
/* Nothing is inherited from the host element, which the host's own
   "!important" rules can reach: every text property is set here. */
* { font-family: var(--referral-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif); font-size: 15px;
  font-weight: 400; font-style: normal; line-height: 1.45; letter-spacing: normal; text-transform: none;
  text-decoration: none; word-spacing: normal; text-align: start; color: var(--text); }
button { cursor: pointer; border-radius: calc(var(--radius) - 4px); min-height: 40px;
  padding: 8px 14px; border: 1px solid var(--border); background: var(--surface); color: var(--text); }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.primary, .launcher { background: var(--accent); color: var(--accent-text); border-color: var(--accent); font-weight: 600; }
h2 { font-size: 18px; font-weight: 700; }
.stats strong { font-size: 20px; font-weight: 700; }
/* The modal: a <dialog> in the top layer; its box is the content's. */
.panel { padding: 0; border: 0; background: transparent; margin: auto; max-width: none; max-height: none;
  width: min(440px, calc(100vw - 16px)); overflow: visible; }
.panel::backdrop { background: rgb(0 0 0 / 0.45); }
.panel[hidden], .nudge[hidden] { display: none; }
.dialog { background: var(--surface); color: var(--text); border-radius: var(--radius); width: 100%;
  max-height: calc(100dvh - 16px); overflow: auto; overscroll-behavior: contain; padding: 20px;
  box-shadow: 0 10px 40px rgb(0 0 0 / 0.25); border: 1px solid transparent; overflow-wrap: anywhere; }
h2 { margin: 0 0 8px; }
p { margin: 0 0 12px; }
.row { display: flex; gap: 8px; align-items: center; margin-block: 12px; flex-wrap: wrap; }
input { flex: 1 1 180px; min-width: 0; padding: 8px; border: 1px solid var(--border); border-radius: 6px; color: var(--text); background: var(--surface); }
.shares { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: 8px; }
.shares a, .shares button { display: flex; align-items: center; justify-content: center; min-height: 40px; padding: 8px;
  border: 1px solid var(--border); border-radius: 6px; color: var(--text); text-decoration: none; background: var(--surface); }
.qr { display: block; width: 148px; height: 148px; margin: 12px auto; background: #fff; }
.stats { display: flex; gap: 16px; margin-block: 8px; }
.stats div { display: grid; }

.close { float: inline-end; min-height: 32px; padding: 4px 10px; }
/* The ask: a manual popover in the top layer, placed by place(). */
.nudge { position: fixed; inset: auto; margin: 0; width: max-content; max-width: min(380px, calc(100vw - 16px));
  max-height: calc(100dvh - 16px); overflow: auto; overflow-wrap: anywhere;
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); padding: 14px 16px;
  box-shadow: 0 6px 24px rgb(0 0 0 / 0.18); transition: opacity 160ms; }
.launcher { max-width: 100%; overflow-wrap: anywhere; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
:host(:dir(rtl)) .dialog, .dialog:dir(rtl) { text-align: right; }
@media (prefers-reduced-motion: reduce) { .dialog, .nudge { transition: none; } }
/* Dark by default under a dark scheme; the custom properties still win. */
@media (prefers-color-scheme: dark) {
  :host { --text: var(--referral-text, #e6edf3); --surface: var(--referral-surface, #161b22);
    --border: var(--referral-border, #8b949e); --accent: var(--referral-accent, #4493f8); --accent-text: var(--referral-accent-text, #0d1117); }
  .qr { outline: 8px solid #fff; }
  .panel::backdrop { background: rgb(0 0 0 / 0.65); }
}
/* Forced colors: the system's colours, and edges that stay visible. */
@media (forced-colors: active) {
  .dialog, .nudge { border: 2px solid CanvasText; }
  button, .shares a, input { border: 1px solid ButtonText; }
}
`;
