// The host app's own script: buttons that call referral.track(), and a
// debug hook the tests read. No inline script anywhere (strict CSP).
for (const button of document.querySelectorAll("[data-track]")) {
  button.addEventListener("click", () => {
    const props = button.dataset.props ? JSON.parse(button.dataset.props) : {};
    window.lastDecision = window.referral.track(button.dataset.track, props);
  });
}
const params = new URLSearchParams(location.search);
const widget = document.querySelector("referral-widget");
if (widget && params.get("user")) widget.setAttribute("user-id", params.get("user"));
if (widget && params.get("name")) widget.setAttribute("referrer-name", params.get("name"));
if (widget && params.get("locale")) widget.setAttribute("locale", params.get("locale"));
if (widget && params.get("state")) widget.setAttribute("state-url", "/api/state");
// Robustness tests: product events sent the moment the module loaded,
// before the widget is ready (they must be queued, not dropped).
if (params.get("early")) {
  window.referral.track("onboarding_completed");
  window.referral.track("report_generated");
}
