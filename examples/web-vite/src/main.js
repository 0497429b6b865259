// One import, one call: what a framework app does.
import { mount, track } from "@referral-sdk/widget";

const widget = mount(document.getElementById("invite"), {
  codeUrl: "/api/code",
  shareBaseUrl: "https://app.example.com/join",
  referrerName: "Anna",
  product: "Acme",
  reward: "You both get a month free.",
});
widget.addEventListener("referral-ready", () => {
  document.body.dataset.widgetReady = "true";
});
document.getElementById("report").addEventListener("click", () => track("report_generated"));
