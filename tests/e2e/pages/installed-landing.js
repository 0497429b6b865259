import { startCapture, getCapturedReferral } from "/installed/node_modules/@referral-sdk/widget/capture.min.js";

await startCapture({ windowDays: 90 });
document.getElementById("captured").textContent = getCapturedReferral()?.code || "none";
document.body.dataset.done = "true";
