import { startCapture, getCapturedReferral } from "/pkg/capture.min.js";

window.ready = startCapture().then(() => {
  const record = getCapturedReferral();
  document.getElementById("ref").textContent = record ? `referral: ${record.code}` : "no referral";
  return record;
});
