// The demo SaaS app. The widget is embedded exactly as wasm/README.md tells
// a customer to: the stub, the module, one element, and referral.track().
import { mount } from "/pkg/widget.min.js";

const $ = (id) => document.getElementById(id);

async function start() {
  const res = await fetch("/api/referral-code", { credentials: "same-origin" });
  if (res.status === 401) {
    $("signin").hidden = false;
    return;
  }
  const me = await res.json();
  $("signin").hidden = true;
  $("app").hidden = false;
  $("who").textContent = `Signed in as ${me.name}`;
  mount($("invite"), {
    codeUrl: "/api/referral-code",
    shareBaseUrl: `${location.origin}/r`,
    referrerName: me.name,
    product: "Acme Analytics",
    reward: "You both get a month free.",
    eventsUrl: "/api/events",
    statsUrl: "/api/stats",
    nudgeConfigUrl: "/api/nudge-config",
    userId: me.account_id,
  });
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  await fetch("/api/demo/sign-in", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: $("email").value }),
  });
  start();
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
