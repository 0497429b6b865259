// @ts-check
// Interface strings of the first load (the launcher, the ask, the panel's
// error state); the panel's own are in panel-strings.js, fetched with the
// panel. Hosts override any of them with `options.strings`.
export const STRINGS = {
  en: {
    launcher: "Invite friends",
    close: "Close",
    unavailable: "Sharing is not available right now. Please try again later.",
    invite: "Invite", notNow: "Not now", never: "Don't ask again",
    referredBy: "You've been referred by {referrer_name}",
  },
  de: {
    launcher: "Freunde einladen",
    close: "Schließen",
    unavailable: "Teilen ist gerade nicht möglich. Bitte später erneut versuchen.",
    invite: "Einladen", notNow: "Nicht jetzt", never: "Nicht mehr fragen",
    referredBy: "{referrer_name} hat dich eingeladen",
  },
  ar: {
    launcher: "ادعُ أصدقاءك",
    close: "إغلاق",
    unavailable: "المشاركة غير متاحة الآن. حاول مرة أخرى لاحقًا.",
    invite: "دعوة", notNow: "ليس الآن", never: "لا تسألني مجددًا",
    referredBy: "دعاك {referrer_name}",
  },
};

export const RTL = new Set(["ar", "he", "fa", "ur"]);

export function strings(locale, overrides) {
  const base = STRINGS[(locale || "en").split("-")[0]] || STRINGS.en;
  return { ...STRINGS.en, ...base, ...(overrides || {}) };
}
