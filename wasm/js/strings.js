// @ts-check
// Interface strings. Hosts override any of them with `options.strings`.
export const STRINGS = {
  en: {
    launcher: "Invite friends",
    title: "Invite friends to {product}",
    intro: "Share your personal link. {reward}",
    linkLabel: "Your referral link",
    copy: "Copy link",
    copied: "Link copied",
    copyFailed: "Copy failed: select the link and copy it",
    shareOn: "Share via",
    email: "Email", linkedin: "LinkedIn", x: "X", whatsapp: "WhatsApp", sms: "SMS", native_share: "More…",
    qr: "Scan to open the link on your phone",
    progress: "Your referrals",
    invites: "Invites", signups: "Sign-ups", rewards: "Rewards",
    close: "Close",
    unavailable: "Sharing is not available right now. Please try again later.",
    invite: "Invite", notNow: "Not now", never: "Don't ask again",
    referredBy: "You've been referred by {referrer_name}",
    subject: "{referrer_name} invited you to {product}",
    body: "I've been using {product} and think you'd like it. {reward} Sign up with my link: {link}",
  },
  de: {
    launcher: "Freunde einladen",
    title: "Freunde zu {product} einladen",
    intro: "Teile deinen persönlichen Link. {reward}",
    linkLabel: "Dein Empfehlungslink",
    copy: "Link kopieren",
    copied: "Link kopiert",
    copyFailed: "Kopieren fehlgeschlagen: Link markieren und kopieren",
    shareOn: "Teilen über",
    email: "E-Mail", linkedin: "LinkedIn", x: "X", whatsapp: "WhatsApp", sms: "SMS", native_share: "Mehr…",
    qr: "Scannen, um den Link am Handy zu öffnen",
    progress: "Deine Empfehlungen",
    invites: "Einladungen", signups: "Anmeldungen", rewards: "Prämien",
    close: "Schließen",
    unavailable: "Teilen ist gerade nicht möglich. Bitte später erneut versuchen.",
    invite: "Einladen", notNow: "Nicht jetzt", never: "Nicht mehr fragen",
    referredBy: "{referrer_name} hat dich eingeladen",
    subject: "{referrer_name} lädt dich zu {product} ein",
    body: "Ich nutze {product} und glaube, es gefällt dir. {reward} Hier registrieren: {link}",
  },
  ar: {
    launcher: "ادعُ أصدقاءك",
    title: "ادعُ أصدقاءك إلى {product}",
    intro: "شارك رابطك الشخصي. {reward}",
    linkLabel: "رابط الإحالة الخاص بك",
    copy: "نسخ الرابط",
    copied: "تم نسخ الرابط",
    copyFailed: "تعذّر النسخ: حدّد الرابط وانسخه",
    shareOn: "شارك عبر",
    email: "البريد", linkedin: "LinkedIn", x: "X", whatsapp: "WhatsApp", sms: "رسالة نصية", native_share: "المزيد…",
    qr: "امسح الرمز لفتح الرابط على هاتفك",
    progress: "إحالاتك",
    invites: "الدعوات", signups: "التسجيلات", rewards: "المكافآت",
    close: "إغلاق",
    unavailable: "المشاركة غير متاحة الآن. حاول مرة أخرى لاحقًا.",
    invite: "دعوة", notNow: "ليس الآن", never: "لا تسألني مجددًا",
    referredBy: "دعاك {referrer_name}",
    subject: "{referrer_name} يدعوك إلى {product}",
    body: "أستخدم {product} وأظنه سيعجبك. {reward} سجّل عبر رابطي: {link}",
  },
};

export const RTL = new Set(["ar", "he", "fa", "ur"]);

export function strings(locale, overrides) {
  const base = STRINGS[(locale || "en").split("-")[0]] || STRINGS.en;
  return { ...STRINGS.en, ...base, ...(overrides || {}) };
}

// Interface text only; share messages go through the core's templates.
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, k) => (values[k] ?? ""));
}
