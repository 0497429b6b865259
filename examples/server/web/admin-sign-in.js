const $ = (id) => document.getElementById(id);
$("admin-signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await fetch("/api/admin/session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: $("email").value, password: $("password").value }),
  });
  if (res.ok) {
    location.assign("/admin");
    return;
  }
  const body = await res.json().catch(() => ({}));
  $("error").textContent = body.error === "rate_limited" ? "Too many attempts; wait a minute." : "Wrong email or password.";
  $("error").dataset.error = body.error || String(res.status);
});
