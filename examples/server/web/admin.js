// The funnel as an SVG bar chart and the review queue, from the core's
// funnel metrics. Text only; no HTML strings.
const NS = "http://www.w3.org/2000/svg";
const res = await fetch("/api/admin/funnel");
const { funnel, review_queue } = await res.json();
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
document.getElementById("funnel").append(svg);
const rate = document.createElement("p");
rate.textContent = `Referral rate: ${(funnel.referral_rate_bp / 100).toFixed(1)}% of customers`;
document.getElementById("funnel").append(rate);
for (const item of review_queue) {
  const tr = document.createElement("tr");
  for (const text of [item.referral_id, item.friend, item.referrer, (item.flags || []).map((f) => f.flag).join(", ")]) {
    const td = document.createElement("td");
    td.textContent = text ?? "";
    tr.append(td);
  }
  document.getElementById("review").append(tr);
}
document.body.dataset.loaded = "true";
