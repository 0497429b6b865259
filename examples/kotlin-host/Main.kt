// A Kotlin/JVM host: what an Android app or a JVM backend does with the SDK.
// It reads a signed code minted by its backend (here: minted locally with a
// demo key, as a backend would), peeks it for display, and builds the share
// targets for every channel. Run: `cargo xtask kotlin-example`.
package dev.referralsdk.example

import dev.referralsdk.*

fun main() {
    val now = System.currentTimeMillis() / 1000
    // On a device the key never exists: the backend mints and sends the code.
    val backend = Verifier(listOf(KeyEntry(1u, ByteArray(32) { it.toByte() }, KeyStatus.ACTIVE)), VerifyPolicy(7u, 90uL * 86400uL, 300uL))
    val message = ShareMessage(
        "{referrer_name} invited you to {product}",
        "I've been using {product} and think you'd like it. {reward}\nJoin with my link: {link}",
    )
    val vars = MessageVars(referrerName = "Anna Lindqvist", product = "Acme Analytics", reward = "We both get a month free.")
    val options = LinkOptions("https://app.example.com/join", "ref", Utm("referral", "android"))
    for (channel in Channel.values()) {
        val code = backend.mint(MintRequest(7u, ReferrerId.Numeric(1042uL), channel, null), now.toULong())
        val claims = peekUnverified(code) // what the app can do without a key
        check(claims.channel == channel)
        val link = referralUrl(options, code, channel)
        val what = when (val action = message.action(channel, link, vars)) {
            is ShareAction.Copy -> "copy ${action.text}"
            is ShareAction.Open -> "open ${action.url}"
            is ShareAction.NativeShare -> "share sheet title=\"${action.title}\" url=${action.url}"
        }
        println("%-12s %s".format(channelName(channel), what))
    }
    try {
        peekUnverified("not-a-code")
    } catch (e: ReferralException.Code) {
        println("peek(\"not-a-code\") -> ${e.reason}")
    }
}
