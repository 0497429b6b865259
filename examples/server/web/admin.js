// The admin: funnel (SVG bar chart), lift against the holdout (SVG
// intervals), review queue, API keys. Text only; no
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

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const interval = (i) => (i ? `${pct(i.estimate)} (${pct(i.low)} to ${pct(i.high)})` : "–");
const perUser = (i) => (i ? `${i.estimate.toFixed(3)} (${i.low.toFixed(3)} to ${i.high.toFixed(3)})` : "–");

function svgEl(name, attrs, text) {
  const el = document.createElementNS(NS, name);
  Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// Each group's share of users who referred someone: a dot at the estimate,
// a line across its 95 % interval, on one axis from 0.
function showLift(lift) {
  const rows = [
    { label: "Can be asked", group: "treatment", report: lift.overall.treatment },
    { label: "Holdout (never asked)", group: "holdout", report: lift.overall.holdout },
    ...lift.variants.map((v) => ({ label: `${v.moment}: ${v.variant}`, group: `${v.moment}:${v.variant}`, report: v.report.treatment })),
  ];
  const highs = rows.map((r) => r.report.referrer_rate?.high ?? 0);
  const axisMax = Math.max(0.01, ...highs) * 1.1;
  const left = 190, width = 400, rowHeight = 34, top = 10;
  const height = top + rows.length * rowHeight + 30;
  const x = (v) => left + (v / axisMax) * width;
  const svg = svgEl("svg", { viewBox: `0 0 640 ${height}`, role: "img", id: "lift-chart" });
  svg.setAttribute("aria-label", rows.map((r) => `${r.label}: ${interval(r.report.referrer_rate)} referred someone`).join("; "));
  rows.forEach((r, i) => {
    const y = top + i * rowHeight + rowHeight / 2;
    svg.append(svgEl("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, r.label));
    const rate = r.report.referrer_rate;
    if (!rate) {
      svg.append(svgEl("text", { x: left, y: y + 4 }, "no users yet"));
      return;
    }
    const colour = r.group === "holdout" ? "#6b7280" : "#1a56db";
    svg.append(
      svgEl("line", { x1: x(rate.low), x2: x(rate.high), y1: y, y2: y, stroke: colour, "stroke-width": 3, "data-group": r.group, "data-low": rate.low, "data-high": rate.high }),
      svgEl("line", { x1: x(rate.low), x2: x(rate.low), y1: y - 7, y2: y + 7, stroke: colour, "stroke-width": 2 }),
      svgEl("line", { x1: x(rate.high), x2: x(rate.high), y1: y - 7, y2: y + 7, stroke: colour, "stroke-width": 2 }),
      svgEl("circle", { cx: x(rate.estimate), cy: y, r: 5, fill: colour, "data-estimate": rate.estimate }),
      svgEl("text", { x: Math.min(x(rate.high) + 8, 600), y: y - 8 }, pct(rate.estimate)),
    );
  });
  const axisY = top + rows.length * rowHeight + 4;
  svg.append(svgEl("line", { x1: left, x2: left + width, y1: axisY, y2: axisY, stroke: "#9ca3af" }));
  for (let t = 0; t <= 4; t++) {
    const v = (axisMax * t) / 4;
    svg.append(svgEl("text", { x: x(v), y: axisY + 16, "text-anchor": "middle" }, pct(v)));
  }
  const verdict = document.createElement("p");
  verdict.id = "lift-verdict";
  verdict.dataset.code = lift.overall.verdict.code;
  verdict.textContent = lift.experiment
    ? `${lift.experiment} (holdout ${(lift.holdout_basis_points / 100).toFixed(0)}%): ${lift.overall.summary}`
    : lift.overall.summary;
  const difference = document.createElement("p");
  const d = lift.overall.referrer_rate;
  if (d) {
    const rel = d.relative?.estimate;
    difference.textContent =
      `Difference: ${(d.absolute.estimate * 100).toFixed(1)} points (95% interval ${(d.absolute.low * 100).toFixed(1)} to ${(d.absolute.high * 100).toFixed(1)})` +
      (rel != null ? `; relative lift ${(rel * 100).toFixed(0)}%` : "");
  }
  $("lift").replaceChildren(verdict, svg, difference);
  $("lift-groups").replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement("tr");
      const t = r.report;
      tr.append(cell(r.label), cell(String(t.users)), cell(String(t.asked)), cell(String(t.shared)), cell(interval(t.referrer_rate)), cell(perUser(t.signups_per_user)), cell(perUser(t.paid_per_user)));
      return tr;
    }),
  );
}

async function showFunnel() {
  const { funnel, lift, review_queue } = await (await fetch("/api/admin/funnel")).json();
  showLift(lift);
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
      const reason = document.createElement("input");
      reason.maxLength = 500;
      reason.setAttribute("aria-label", `Reason for ${item.referral_id}`);
      const decide = (decision, label) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.dataset.decision = decision;
        button.addEventListener("click", async () => {
          const res = await send("POST", `/api/admin/referrals/${encodeURIComponent(item.referral_id)}/decision`, { decision, reason: reason.value });
          const body = await res.json();
          $("review-status").textContent = res.ok ? `${item.referral_id}: ${body.decision}` : `Error: ${body.message}`;
          if (res.ok) await Promise.all([showFunnel(), showAudit()]);
        });
        return button;
      };
      const reasonCell = document.createElement("td");
      reasonCell.append(reason);
      const actions = document.createElement("td");
      actions.append(decide("approve", "Approve"), " ", decide("reject", "Reject"));
      tr.append(cell(item.referral_id), cell(item.friend), cell(item.referrer), cell(item.flags.join(", ")), reasonCell, actions);
      return tr;
    }),
  );
}

async function showAudit() {
  const entries = await (await fetch("/api/admin/audit")).json();
  $("audit").replaceChildren(
    ...entries.map((e) => {
      const tr = document.createElement("tr");
      tr.append(cell(new Date(e.at * 1000).toISOString().replace("T", " ").slice(0, 19)), cell(e.admin), cell(e.action), cell(e.subject), cell(e.reason));
      return tr;
    }),
  );
}

$("adjust").addEventListener("submit", async (e) => {
  e.preventDefault();
  const referral = $("adjust-referral").value;
  const res = await send("POST", `/api/admin/referrals/${encodeURIComponent(referral)}/adjustments`, {
    // One id per submitted form: a retry of the same request is a duplicate.
    adjustment_id: crypto.randomUUID(),
    side: $("adjust-side").value,
    amount_minor: Number($("adjust-amount").value),
    currency: $("adjust-currency").value,
    reason: $("adjust-reason").value,
  });
  const body = await res.json();
  $("adjust-status").textContent = res.ok ? `Adjusted: ${body.applied.entries?.join(", ") ?? body.applied.outcome}` : `Error: ${body.message}`;
  if (res.ok) await showAudit();
});
$("by-hand").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await send("POST", "/api/admin/referrals", { friend: $("by-hand-friend").value, referrer: $("by-hand-referrer").value, reason: $("by-hand-reason").value });
  const body = await res.json();
  $("by-hand-status").textContent = res.ok ? `Attributed: ${body.referral_id}` : `Error: ${body.message}`;
  if (res.ok) await Promise.all([showFunnel(), showAudit()]);
});

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
  $("simulate").addEventListener("click", async () => {
    $("simulate").disabled = true;
    $("simulated").textContent = "Simulating…";
    const res = await send("POST", "/demo/api/simulate", { customers: 500 });
    const body = await res.json();
    $("simulated").textContent = res.ok
      ? `Added ${body.customers} customers: ${body.asked} asked, ${body.shared} shared, ${body.referred_signups} referred signups.`
      : body.message;
    $("simulate").disabled = false;
    await showFunnel();
  });
}

await Promise.all([showFunnel(), showKeys(), showAudit()]);
document.body.dataset.loaded = "true";
