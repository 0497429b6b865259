// Product events sent through the queue stub before the widget's module
// has even loaded (a classic script, run while the page parses).
window.referral.track("onboarding_completed");
window.referral.track("report_generated");
