// Time from navigation start to the invite button painted: the plain
// button, or the widget's launcher. Long tasks are recorded as they come.
window.longTasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.longTasks.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
} catch {
  // No long-task timing in this browser.
}
const painted = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))));
window.launcherVisible = new Promise((resolve) => {
  const widget = document.querySelector("referral-widget");
  if (!widget) {
    painted().then(resolve);
    return;
  }
  const check = () => {
    if (widget.shadowRoot?.querySelector(".launcher")) painted().then(resolve);
    else widget.addEventListener("referral-ready", () => painted().then(resolve), { once: true });
  };
  customElements.whenDefined("referral-widget").then(check);
});
