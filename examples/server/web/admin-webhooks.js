// The admin's outbound webhooks section: endpoints (add, rotate the
// secret, remove), recent deliveries with every attempt, and a redeliver
// button. Text only; no HTML strings. Every state change carries the
// session's CSRF token.
const $ = (id) => document.getElementById(id);

const sessionRes = await fetch("/api/admin/session");
if (!sessionRes.ok) throw new Error("not signed in");
const session = await sessionRes.json();
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
function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}
const when = (secs) => new Date(secs * 1000).toISOString().replace("T", " ").slice(0, 19);

async function showEndpoints() {
  const endpoints = await (await fetch("/api/admin/webhooks")).json();
  $("webhook-endpoints").replaceChildren(
    ...endpoints.map((e) => {
      const tr = document.createElement("tr");
      const actions = document.createElement("td");
      actions.append(
        button("Rotate secret", async () => {
          const res = await send("POST", `/api/admin/webhooks/${encodeURIComponent(e.id)}/rotate`);
          const body = await res.json();
          $("webhook-secret").textContent = res.ok
            ? `New secret for ${e.id} (copy it now, it is not shown again): ${body.secret}`
            : `Error: ${body.message}`;
          showEndpoints();
        }),
        " ",
        button("Remove", async () => {
          await send("DELETE", `/api/admin/webhooks/${encodeURIComponent(e.id)}`);
          showEndpoints();
        }),
      );
      tr.append(cell(e.id), cell(e.url), cell(e.event_types.length ? e.event_types.join(" ") : "all"), cell(String(e.active_secrets)), actions);
      return tr;
    }),
  );
}

async function showDeliveries() {
  const deliveries = await (await fetch("/api/admin/webhook-deliveries?limit=50")).json();
  $("webhook-deliveries").replaceChildren(
    ...deliveries.map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.delivery = String(d.id);
      const attempts = document.createElement("td");
      const list = document.createElement("ol");
      for (const a of d.attempt_log) {
        const li = document.createElement("li");
        li.textContent = `${when(a.attempted_at)}: ${a.status_code ?? a.error} (${a.duration_ms} ms)`;
        list.append(li);
      }
      attempts.append(list);
      const action = document.createElement("td");
      action.append(
        button("Redeliver", async () => {
          await send("POST", `/api/admin/webhook-deliveries/${d.id}/redeliver`);
          setTimeout(showDeliveries, 1500);
          showDeliveries();
        }),
      );
      tr.append(cell(String(d.id)), cell(`${d.event_type} ${d.event_id}`), cell(d.url ?? "(removed)"), cell(d.status), attempts, action);
      return tr;
    }),
  );
}

$("new-webhook").addEventListener("submit", async (e) => {
  e.preventDefault();
  const types = $("webhook-types").value.split(/[\s,]+/).filter((t) => t && t !== "all");
  const res = await send("POST", "/api/admin/webhooks", { url: $("webhook-url").value, event_types: types });
  const body = await res.json();
  $("webhook-secret").textContent = res.ok
    ? `Endpoint ${body.id} added. Its signing secret (copy it now, it is not shown again): ${body.secret}`
    : `Error: ${body.message}`;
  showEndpoints();
});

await Promise.all([showEndpoints(), showDeliveries()]);
$("webhooks").dataset.loaded = "true";
