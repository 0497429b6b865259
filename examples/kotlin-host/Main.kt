// A Kotlin/JVM host: what an Android app or a JVM backend does with the SDK.
// It reads a signed code minted by its backend (here: minted locally with a
// demo key, as a backend would), peeks it for display, and builds the share
// targets for every channel, then runs a user through the nudge engine.
// Run by `cargo xtask test-bindings` as a JVM developer would: compiled and
// run against the SDK's jar (bindings and native library inside) with JNA
// and the Kotlin standard library, no -Djna.library.path:
//   java -cp example.jar:referral-sdk-0.1.0.jar:jna.jar:kotlin-stdlib.jar dev.referralsdk.example.MainKt
package dev.referralsdk.example

import dev.referralsdk.*

fun main(args: Array<String>) {
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
    // Nudges: the same engine, config and decisions as the web widget.
    val engine = NudgeEngine.fromToml(java.io.File(args.getOrElse(0) { "examples/nudge/config.toml" }).readText())
    val user = engine.newUser("android-user-7")
    val start = now.toULong()
    val day = 86_400uL
    val script = listOf(
        Triple("signup", emptyMap<String, PropertyValue>(), start),
        Triple("report_generated", emptyMap(), start + 600uL),
        Triple("onboarding_completed", emptyMap(), start + 3_600uL),
        Triple("integration_failed", emptyMap(), start + 2uL * day),
        Triple("seat_added", emptyMap(), start + 2uL * day + 600uL),
        Triple("nps_submitted", mapOf("score" to PropertyValue.Int(10)), start + 4uL * day),
    )
    for ((event, props, at) in script) {
        when (val decision = user.evaluate(event, props, at)) {
            is NudgeDecision.Ask -> println("nudge %-22s -> ask (%s/%s): %s".format(event, decision.moment, decision.variant, decision.message))
            is NudgeDecision.Quiet -> println("nudge %-22s -> quiet: %s".format(event, decision.reason))
        }
    }
    user.record(NudgeOutcome.OPTED_OUT, start + 4uL * day + 60uL)
    println("after don't-ask-again: " + (user.evaluate("seat_added", emptyMap(), start + 60uL * day) as NudgeDecision.Quiet).reason)
    println("state to store: ${user.toBytes().size} bytes")

    try {
        peekUnverified("not-a-code")
    } catch (e: ReferralException.Code) {
        println("peek(\"not-a-code\") -> ${e.reason}")
    }
}
