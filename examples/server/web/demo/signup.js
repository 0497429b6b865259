// The landing page for referred friends: capture, "referred by", signup.
// The signup goes to this host's backend, which tells the referral service
// (server API) with what the landing's cookie and the page captured.
import { startCapture, getCapturedReferral } from "/pkg/capture.min.js";

const $ = (id) => document.getElementById(id);

await startCapture({ windowDays: 90 });
const captured = getCapturedReferral();
if (captured) {
  const res = await fetch(`/api/v1/referrer?code=${encodeURIComponent(captured.code)}`);
  const body = res.ok ? await res.json() : null;
  if (body?.name) $("referred-by").textContent = `You've been referred by ${body.name}`;
  else if (res.ok) $("referred-by").textContent = "You've been invited by a friend";
}

$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const record = getCapturedReferral();
  const res = await fetch("/demo/api/accounts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({
      email: $("email").value,
      password: $("password").value,
      company_domain: $("company").value || null,
      code: record?.code ?? null,
      captured_at: record?.captured_at ?? null,
      typed_code: $("typed").value || null,
      share_name: $("share-name").checked,
    }),
  });
  const body = await res.json();
  const result = $("result");
  result.className = res.ok ? "ok" : "error";
  result.textContent = res.ok ? `Account created (${body.reason.replaceAll("_", " ")}).` : `Error: ${body.message || body.error}`;
  result.dataset.reason = res.ok ? body.reason : body.error;
  result.dataset.account = body.user_id || "";
});
