// Compiled with `tsc --noEmit` against the built package's .d.ts files: the
// published types describe the API the tests drive, from every entry point.
import { mount, track, defineReferralWidget, ReferralWidget, loadCore } from "@referral-sdk/widget";
import type { WidgetOptions, NudgeDecision } from "@referral-sdk/widget";
import { startCapture, getCapturedReferral, grantConsent, stashForRedirect } from "@referral-sdk/widget/capture";
import type { CapturedReferral, CaptureOptions } from "@referral-sdk/widget/capture";
import * as bundle from "@referral-sdk/widget/widget.min.js";
import * as captureBundle from "@referral-sdk/widget/capture.min.js";

const options: WidgetOptions = {
  codeUrl: "/api/referral-code",
  shareBaseUrl: "https://acme.example/join",
  referrerName: "Anna",
  product: "Acme",
  reward: "You both get a month free.",
  locale: "ar",
  strings: { copy: "Copy" },
  message: { subject: "{referrer_name} invited you", body: "Join: {link}" },
  eventsUrl: "/api/referral-events",
  userToken: async () => "ut1.00.00",
  nudgeConfig: { moments: [] },
  userId: "42",
  floating: true,
};

const withStaticToken: WidgetOptions = { userToken: "ut1.00.00" };
void withStaticToken;

defineReferralWidget();
const widget: ReferralWidget = mount(document.body, options);
widget.open();
widget.close();
const decision: NudgeDecision | null = track("report_generated", { rows: 120, pro: true, plan: "team" });
if (decision && decision.decision === "ask") {
  const message: string = decision.message;
  const occurrence: number = decision.why.occurrence;
  void message;
  void occurrence;
} else if (decision) {
  const code: string = decision.reason.code;
  void code;
}
bundle.mount(document.body, { code: "x" }).track("seat_added");

const captureOptions: CaptureOptions = { cookieDomain: ".acme.example", windowDays: 90, consent: "pending" };
async function landing(): Promise<void> {
  const captured: CapturedReferral | null = await startCapture(captureOptions);
  grantConsent();
  const stashed: CapturedReferral | null = stashForRedirect();
  const forForm: string = getCapturedReferral()?.code ?? "";
  const fromBundle: CapturedReferral | null = captureBundle.getCapturedReferral();
  await loadCore();
  void [captured, stashed, forForm, fromBundle];
}
void landing;

// @ts-expect-error the widget never takes a signing secret
mount(document.body, { secret: "k1" });

// The reason codes are string-literal unions generated from core's lists.
import type { ReferralError, ReasonCode, QuietReasonCode } from "@referral-sdk/widget";
function reasonOf(error: unknown): ReasonCode | null {
  const e = error as Partial<ReferralError>;
  if (e && e.name === "ReferralError" && e.code) {
    if (e.code === "invalid_nudge_config") return e.field ? e.code : "invalid_input";
    return e.code;
  }
  return null;
}
const quiet: QuietReasonCode = "cooldown";
// @ts-expect-error not a reason core gives
const notAReason: ReasonCode = "bad_sig";
void [reasonOf, quiet, notAReason];
