// The demo SaaS app. It signs its own users in (the demo host's accounts),
// asks its own backend for a user token, and embeds the widget exactly as
// wasm/README.md tells a customer: the stub, the module, one element, and
// referral.track().
import { mount } from "/pkg/widget.min.js";

const $ = (id) => document.getElementById(id);

// The user token comes from this host's backend (minted with the SDK for
// the signed-in user). It lives 15 minutes; refresh it every 5.
let token = null;
async function me() {
  const res = await fetch("/demo/api/me", { credentials: "same-origin" });
  if (!res.ok) return null;
  const body = await res.json();
  token = { value: body.user_token, fetchedAt: Date.now() };
  return body;
}
async function userToken() {
  if (!token || Date.now() - token.fetchedAt > 5 * 60 * 1000) await me();
  return token?.value;
}

async function start() {
  const user = await me();
  if (!user) {
    $("signin").hidden = false;
    return;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `Signed in as ${user.name}`;
  $("holdout-note").hidden = !user.in_holdout;
  // The loop closed: the service's referral.attributed webhook reached
  // this host's backend, which thanks the referrer.
  const showThanks = (u) => {
    const thanks = u?.thanks ?? [];
    $("thanks").textContent = thanks[thanks.length - 1] ?? "";
    $("thanks").hidden = thanks.length === 0;
  };
  showThanks(user);
  setInterval(async () => {
    const res = await fetch("/demo/api/thanks", { credentials: "same-origin" });
    if (res.ok) showThanks(await res.json());
  }, 3000);
  mount($("invite"), {
    userToken,
    codeUrl: "/api/v1/me/referral",
    shareBaseUrl: `${location.origin}/r`,
    referrerName: user.name,
    product: "Acme Analytics",
    reward: "You both get a month free.",
    eventsUrl: "/api/v1/me/events",
    statsUrl: "/api/v1/me/stats",
    nudgeConfigUrl: "/api/v1/nudge-config",
    // "Don't ask again" follows the person across browsers and devices.
    stateUrl: "/api/v1/me/nudge-state",
    userId: user.user_id,
  });
}

async function authenticate(path) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: $("email").value, password: $("password").value }),
  });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $("signin-error").textContent = body.message || `Error ${res.status}`;
    $("signin-error").dataset.error = body.error || String(res.status);
    return;
  }
  start();
}

$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  authenticate("/demo/api/session");
});
$("create-account").addEventListener("click", () => {
  if ($("signin-form").reportValidity()) authenticate("/demo/api/accounts");
});
$("sign-out").addEventListener("click", async () => {
  await fetch("/demo/api/session", { method: "DELETE" });
  location.reload();
});

$("connect").addEventListener("click", () => {
  $("step-connect").classList.add("done");
  referral.track("integration_connected", { provider: "postgres" });
});
$("finish-onboarding").addEventListener("click", () => {
  $("step-onboard").classList.add("done");
  referral.track("onboarding_completed");
});
$("generate-report").addEventListener("click", () => {
  $("report-status").textContent = "Report generated.";
  referral.track("report_generated", { rows: 1200 });
});
$("fail").addEventListener("click", () => {
  $("report-status").textContent = "Sync failed: the CRM did not answer.";
  referral.track("integration_failed", { provider: "crm" });
});
for (let score = 0; score <= 10; score++) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = String(score);
  b.addEventListener("click", () => referral.track("nps_submitted", { score }));
  $("nps").append(b);
}
$("cancel").addEventListener("click", () => {
  $("cancel-status").textContent = "We're sorry to see you go.";
  referral.track("cancel_started");
});

start();
