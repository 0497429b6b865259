// What a person sees: every control of the ask and of the panel is inside
// the viewport and is the element actually hit at its centre (through the
// widget's shadow root), so it can be read and clicked. Shared by the
// geometry tests on plain pages and the demo app's end-to-end test.

// Runs in the page: checks the controls matched by `selector` in the
// widget's shadow root. With `scroll`, each control is first scrolled into
// view inside its own scroll container (as a person would scroll the panel).
function inspect({ selector, scroll }) {
  const host = document.querySelector("referral-widget");
  const root = host.shadowRoot;
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  const problems = [];
  const nodes = [...root.querySelectorAll(selector)].filter((n) => n.getClientRects().length > 0);
  if (nodes.length === 0) problems.push(`nothing matches ${selector}`);
  for (const node of nodes) {
    if (scroll) node.scrollIntoView({ block: "nearest", inline: "nearest" });
    const r = node.getBoundingClientRect();
    const name = node.getAttribute("part") || node.tagName.toLowerCase();
    if (r.width < 1 || r.height < 1) {
      problems.push(`${name} has no size`);
      continue;
    }
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5) {
      problems.push(`${name} at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} is outside the ${vw}×${vh} viewport`);
      continue;
    }
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const hit = root.elementFromPoint(x, y);
    if (!hit || !(hit === node || node.contains(hit))) {
      const what = hit ? (hit.getAttribute?.("part") || hit.id || hit.tagName) : "nothing";
      problems.push(`${name}: the point at its centre hits ${what}`);
    }
    // Text must not spill out of its box (long unbroken names).
    if (node.scrollWidth > node.clientWidth + 1 && getComputedStyle(node).overflowX === "visible") {
      problems.push(`${name}: its text overflows its box`);
    }
  }
  return problems;
}

export async function checkAsk(page, label) {
  const problems = await page.evaluate(inspect, { selector: '.nudge:not([hidden]) [part="nudge-message"], .nudge:not([hidden]) button', scroll: false });
  if (problems.length) throw new Error(`${label}: the ask: ${problems.join("; ")}`);
}

export async function checkPanel(page, label) {
  const problems = await page.evaluate(inspect, { selector: '.panel[open] h2, .panel[open] button, .panel[open] a[href], .panel[open] input', scroll: true });
  // The backdrop covers the whole viewport, above anything the host draws.
  const corners = await page.evaluate(() => {
    const root = document.querySelector("referral-widget").shadowRoot;
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    return [[1, 1], [vw - 2, 1], [1, vh - 2], [vw - 2, vh - 2]].map(([x, y]) => {
      const top = document.elementFromPoint(x, y);
      return top === document.querySelector("referral-widget") && root.elementFromPoint(x, y)?.classList.contains("panel");
    });
  });
  if (!corners.every(Boolean)) problems.push(`the backdrop does not cover every corner of the viewport (${corners})`);
  if (problems.length) throw new Error(`${label}: the panel: ${problems.join("; ")}`);
}
