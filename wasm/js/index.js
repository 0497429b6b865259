// @ts-check
// The package entry: the widget (defines <referral-widget>), its JS API, and
// the landing-page capture helpers.
export { ReferralWidget, defineReferralWidget, mount, track } from "./referral-widget.js";
export { startCapture, grantConsent, stashForRedirect, getCapturedReferral } from "./capture.js";
export { loadCore } from "./core.js";
