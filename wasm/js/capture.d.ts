// Types of the landing-page capture entry (`capture.js`, `capture.min.js`).
export interface CapturedReferral {
  code: string;
  captured_at: number;
  expires_at: number;
}
export interface CaptureOptions {
  param?: string;
  windowDays?: number;
  cookieDomain?: string;
  consent?: "granted" | "pending";
  /** Where referral_capture_bg.wasm lives, if not next to the module. */
  wasmUrl?: string;
}
export declare function startCapture(options?: CaptureOptions): Promise<CapturedReferral | null>;
export declare function grantConsent(): void;
export declare function stashForRedirect(): CapturedReferral | null;
export declare function getCapturedReferral(): CapturedReferral | null;
