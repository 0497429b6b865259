// Measures from the start of the widget's import to its launcher existing.
const t0 = performance.now();
window.launcherRendered = new Promise((resolve) => {
  import("/pkg/widget.min.js").then(() => {
    const widget = document.querySelector("referral-widget");
    const done = () => resolve(performance.now() - t0);
    if (widget.shadowRoot.querySelector(".launcher")) done();
    else widget.addEventListener("referral-ready", done, { once: true });
  });
});
