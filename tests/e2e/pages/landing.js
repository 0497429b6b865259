import { startCapture, grantConsent, stashForRedirect, getCapturedReferral } from "/pkg/capture.min.js";

const consent = new URLSearchParams(location.search).get("consent") === "pending" ? "pending" : "granted";
window.captureDone = startCapture({ consent, windowDays: 90 }).then((record) => {
  window.captured = record;
  return record;
});
document.getElementById("consent").addEventListener("click", () => grantConsent());
// Client-side navigation, as an SPA router would do it.
document.getElementById("spa-link").addEventListener("click", (e) => {
  e.preventDefault();
  history.pushState({}, "", "/pages/pricing.html");
  document.querySelector("h1").textContent = "Pricing";
});
document.getElementById("oauth").addEventListener("click", () => stashForRedirect());
window.getCapturedReferral = getCapturedReferral;
