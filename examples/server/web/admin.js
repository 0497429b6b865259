// The admin: funnel (SVG bar chart), review queue, API keys. Text only; no
// HTML strings. Every state change carries the session's CSRF token.
const NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const sessionRes = await fetch("/api/admin/session");
if (!sessionRes.ok) location.assign("/admin/sign-in");
const session = await sessionRes.json();
$("who").textContent = session.email;
const send = (method, url, body) =>
  fetch(url, {
    method,
    headers: { "content-type": "application/json", "x-csrf-token": session.csrf_token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  return td;
}

async function showFunnel() {
  const { funnel, review_queue } = await (await fetch("/api/admin/funnel")).json();
  const stages = ["impression", "share", "click", "signup", "trial", "activation", "paid", "reward"];
  const counts = stages.map((s) => funnel.total.counts[s] || 0);
  const max = Math.max(1, ...counts);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 640 300");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", stages.map((s, i) => `${s}: ${counts[i]}`).join(", "));
  stages.forEach((stage, i) => {
    const h = (counts[i] / max) * 220;
    const x = 20 + i * 77;
    const bar = document.createElementNS(NS, "rect");
    Object.entries({ x, y: 250 - h, width: 56, height: h, fill: "#1a56db" }).forEach(([k, v]) => bar.setAttribute(k, v));
    const label = document.createElementNS(NS, "text");
    Object.entries({ x: x + 28, y: 270, "text-anchor": "middle" }).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = stage;
    const value = document.createElementNS(NS, "text");
    Object.entries({ x: x + 28, y: 244 - h, "text-anchor": "middle", "data-stage": stage }).forEach(([k, v]) => value.setAttribute(k, v));
    value.textContent = String(counts[i]);
    svg.append(bar, label, value);
  });
  const rate = document.createElement("p");
  rate.textContent = `Referral rate: ${(funnel.referral_rate_bp / 100).toFixed(1)}% of customers`;
  $("funnel").replaceChildren(svg, rate);
  $("review").replaceChildren(
    ...review_queue.map((item) => {
      const tr = document.createElement("tr");
      tr.append(cell(item.referral_id), cell(item.friend), cell(item.referrer), cell(item.flags.join(", ")));
      return tr;
    }),
  );
}

async function showKeys() {
  const keys = await (await fetch("/api/admin/api-keys")).json();
  $("keys").replaceChildren(
    ...keys.map((k) => {
      const tr = document.createElement("tr");
      const action = document.createElement("td");
      if (k.revoked_at == null) {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.textContent = "Revoke";
        revoke.addEventListener("click", async () => {
          await send("DELETE", `/api/admin/api-keys/${encodeURIComponent(k.id)}`);
          showKeys();
        });
        action.append(revoke);
      } else {
        action.textContent = "revoked";
      }
      tr.append(cell(k.id), cell(k.name), cell(new Date(k.created_at * 1000).toISOString().slice(0, 10)), action);
      return tr;
    }),
  );
}

$("new-key").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await send("POST", "/api/admin/api-keys", { name: $("key-name").value });
  const body = await res.json();
  $("created-key").textContent = res.ok ? `New key (copy it now, it is not shown again): ${body.key}` : `Error: ${body.message}`;
  showKeys();
});
$("sign-out").addEventListener("click", async () => {
  await send("DELETE", "/api/admin/session");
  location.assign("/admin/sign-in");
});
if (session.demo) {
  $("demo-tools").hidden = false;
  $("advance").addEventListener("click", async () => {
    const res = await send("POST", "/demo/api/advance-time", { days: 31 });
    const body = await res.json();
    $("clock").textContent = res.ok ? `Demo clock: ${new Date(body.now * 1000).toISOString().slice(0, 10)}` : body.message;
    showFunnel();
  });
}

await Promise.all([showFunnel(), showKeys()]);
document.body.dataset.loaded = "true";
