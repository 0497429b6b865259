// The landing page for referred friends: capture, "referred by", signup.
import { startCapture, getCapturedReferral } from "/pkg/capture.min.js";

const $ = (id) => document.getElementById(id);

await startCapture({ windowDays: 90 });
const captured = getCapturedReferral();
if (captured) {
  const res = await fetch(`/api/referrer?code=${encodeURIComponent(captured.code)}`);
  if (res.ok) $("referred-by").textContent = `You've been referred by ${(await res.json()).name}`;
}

$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const record = getCapturedReferral();
  const res = await fetch("/api/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({
      email: $("email").value,
      company_domain: $("company").value || null,
      code: record?.code ?? null,
      captured_at: record?.captured_at ?? null,
      typed_code: $("typed").value || null,
    }),
  });
  const body = await res.json();
  const result = $("result");
  result.className = res.ok ? "ok" : "error";
  result.textContent = res.ok ? `Account created (${body.reason.replaceAll("_", " ")}).` : `Error: ${body.error}`;
  result.dataset.reason = res.ok ? body.reason : body.error;
  result.dataset.account = body.account_id || "";
});
