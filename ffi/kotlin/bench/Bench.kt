// Calls per second from Kotlin/JVM: the binding's verify beside a
// hand-written javax.crypto.Mac check. Run via `cargo xtask bench-bindings`.
package dev.referralsdk.bench

import dev.referralsdk.*
import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

private const val NOW = 1_780_000_000uL

private fun perCallNanos(iterations: Int, block: () -> Unit): Double {
    repeat(iterations / 5) { block() } // warm-up for the JIT
    val samples = (1..5).map {
        val start = System.nanoTime()
        repeat(iterations) { block() }
        (System.nanoTime() - start).toDouble() / iterations
    }.sorted()
    return samples[2]
}

fun main() {
    val secret = ByteArray(32) { 0x5a }
    val verifier = Verifier(listOf(KeyEntry(1u, secret, KeyStatus.ACTIVE)), VerifyPolicy(7u, 365uL * 86400uL, 300uL))
    val code = verifier.mint(MintRequest(7u, ReferrerId.Numeric(1_000_000uL), Channel.EMAIL, null), NOW)

    // What a JVM developer would write by hand: base64url(claims).base64url(tag).
    val body = Base64.getUrlEncoder().withoutPadding().encodeToString("""{"kid":1,"prg":7,"sub":1000000,"chn":"email","iat":1780000000}""".toByteArray())
    val keySpec = SecretKeySpec(secret, "HmacSHA256")
    fun tag(text: String): ByteArray = Mac.getInstance("HmacSHA256").run { init(keySpec); doFinal(text.toByteArray()) }.copyOf(8)
    val token = body + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(tag(body))
    val handWritten = {
        val (b, t) = token.split(".")
        val expected = tag(b)
        val given = Base64.getUrlDecoder().decode(t)
        if (!java.security.MessageDigest.isEqual(expected, given)) throw IllegalStateException("bad signature")
        String(Base64.getUrlDecoder().decode(b))
    }

    val engine = NudgeEngine.fromToml(java.io.File("examples/nudge/config.toml").readText())
    val user = engine.newUser("bench-user")
    user.evaluate("signup", emptyMap(), NOW)
    user.evaluate("onboarding_completed", emptyMap(), NOW + 60uL)
    val props = mapOf("score" to PropertyValue.Int(10))
    var clock = NOW + 2uL * 86_400uL

    val rows = listOf(
        "binding verify (uniffi/JNA)" to perCallNanos(200_000) { verifier.verify(code, NOW + 60uL) },
        "binding peekUnverified (uniffi/JNA)" to perCallNanos(200_000) { peekUnverified(code) },
        "hand-written javax.crypto.Mac verify" to perCallNanos(200_000) { handWritten() },
        "binding nudge evaluate (event + 1 property; quiet: cooldown)" to perCallNanos(200_000) { clock += 1uL; user.evaluate("nps_submitted", props, clock) },
    )
    println("| operation | µs per call | calls per second |")
    println("|---|---|---|")
    for ((name, ns) in rows) println("| $name | ${"%.2f".format(ns / 1000)} | ${"%,.0f".format(1e9 / ns)} |")
}
