// Types of the widget entry (`referral-widget.js`, `widget.min.js`).
import type { QuietReasonCode } from "./reasons.js";
// The reason codes and `ReferralError`, generated from core (`cargo xtask ts-types`).
export * from "./reasons.js";

/** Options for `<referral-widget>` / `mount()`. The widget never receives a signing secret. */
export interface WidgetOptions {
  /** A signed code minted by your backend. */
  code?: string;
  /** Or a same-origin URL returning `{"code": "..."}`. */
  codeUrl?: string;
  /** Per-channel codes (each minted for its channel), optional. */
  codes?: Partial<Record<"link" | "email" | "linkedin" | "x" | "whatsapp" | "sms" | "native_share" | "qr", string>>;
  /** Landing page the link points to (default: this origin). */
  shareBaseUrl?: string;
  linkParam?: string;
  utmCampaign?: string;
  referrerName?: string;
  product?: string;
  reward?: string;
  /** "en", "de", "ar" (right-to-left) ship; other strings via `strings`. */
  locale?: string;
  strings?: Record<string, string>;
  /** `{subject, body}` templates with {referrer_name} {product} {reward} {link}. */
  message?: { subject?: string; body?: string };
  /**
   * A user token your backend minted for the signed-in user (core's
   * `mint_user_token`), sent as `Authorization: Bearer …` to `codeUrl`,
   * `eventsUrl` and `statsUrl`. A function is called before each request,
   * so it can return a refreshed token.
   */
  userToken?: string | (() => string | Promise<string>);
  /** Same-origin endpoint receiving `{events: [...]}` batches. */
  eventsUrl?: string;
  /** Same-origin endpoint returning `{invites, signups, rewards}`. */
  statsUrl?: string;
  /** Nudge configuration (object or JSON text) or a same-origin URL to it. */
  nudgeConfig?: object | string;
  nudgeConfigUrl?: string;
  /** Namespaces the stored nudge state. */
  userId?: string;
  /**
   * Same-origin URL of the person's nudge state on your backend (the
   * reference service's `/api/v1/me/nudge-state`): GET `{state, version}`,
   * PUT `{state}` with `If-Match`. The widget merges it with this browser's
   * state (core's rule), so "don't ask again" follows the person.
   */
  stateUrl?: string;
  floating?: boolean;
  /**
   * Where referral_wasm_bg.wasm (the nudge engine, fetched only when there
   * is a nudge config) lives, if not next to the module.
   */
  wasmUrl?: string;
  /**
   * Where referral_capture_bg.wasm (core's code check, loaded first) lives:
   * by default next to `wasmUrl` if that is set, else next to the module.
   */
  checkWasmUrl?: string;
  /**
   * Where referral_panel_bg.wasm (the panel's links, share actions and QR
   * codes, fetched when the panel is about to open) lives: by default next
   * to `wasmUrl` if that is set, else next to the module.
   */
  panelWasmUrl?: string;
}

export type NudgeDecision =
  | { decision: "ask"; moment: string; variant: string; message: string; why: { event: string; occurrence: number; priority: number; bypassed?: string[] } }
  | { decision: "quiet"; reason: { code: QuietReasonCode; [detail: string]: unknown } };

export declare class ReferralWidget extends HTMLElement {
  options: WidgetOptions;
  /** Settles once the panel is shown (its module fetched first if need be). */
  open(): Promise<void>;
  close(): void;
  track(event: string, properties?: Record<string, string | number | boolean>): NudgeDecision | null;
}

export declare function defineReferralWidget(name?: string): void;
export declare function mount(element: Element, options: WidgetOptions): ReferralWidget;
export declare function track(event: string, properties?: Record<string, string | number | boolean>): NudgeDecision | null;
