// The shared vectors run through the generated Kotlin bindings on the JVM.
// A plain `main` harness (no test framework is available offline): prints
// "N passed, M failed" and exits non-zero on any failure.
package dev.referralsdk.tests

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import dev.referralsdk.*
import java.io.File
import kotlin.system.exitProcess

private var passed = 0
private var failed = 0

private fun check(name: String, block: () -> Unit) {
    try {
        block()
        passed++
    } catch (e: Throwable) {
        failed++
        println("FAIL $name: $e")
    }
}

private fun assertEq(expected: Any?, actual: Any?, what: String) {
    if (expected != actual) throw AssertionError("$what: expected <$expected> got <$actual>")
}

private fun hex(text: String): ByteArray = ByteArray(text.length / 2) { i -> text.substring(2 * i, 2 * i + 2).toInt(16).toByte() }
private fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it) }

private val channels = Channel.values().associateBy { channelName(it) }

private fun referrer(json: JsonObject): ReferrerId =
    if (json.has("numeric")) ReferrerId.Numeric(json["numeric"].asBigInteger.toLong().toULong())
    else ReferrerId.Opaque(hex(json["opaque"].asString))

private fun claims(json: JsonObject) = Claims(
    keyId = json["key_id"].asLong.toUInt(),
    programId = json["program_id"].asLong.toUInt(),
    referrer = referrer(json["referrer"].asJsonObject),
    channel = channels.getValue(json["channel"].asString),
    campaign = if (json.has("campaign") && !json["campaign"].isJsonNull) json["campaign"].asLong.toUInt() else null,
    issuedAt = json["issued_at"].asLong.toULong(),
)

// ReferrerId.Opaque holds a ByteArray, whose equals is identity: compare content.
private fun sameClaims(a: Claims, b: Claims): Boolean {
    val sameReferrer = when (val x = a.referrer) {
        is ReferrerId.Numeric -> b.referrer is ReferrerId.Numeric && x.id == (b.referrer as ReferrerId.Numeric).id
        is ReferrerId.Opaque -> b.referrer is ReferrerId.Opaque && x.bytes.contentEquals((b.referrer as ReferrerId.Opaque).bytes)
    }
    return sameReferrer && a.keyId == b.keyId && a.programId == b.programId && a.channel == b.channel &&
        a.campaign == b.campaign && a.issuedAt == b.issuedAt
}

private fun policy(json: JsonObject) = VerifyPolicy(
    json["program_id"].asLong.toUInt(), json["max_age_secs"].asLong.toULong(), json["max_clock_skew_secs"].asLong.toULong(),
)

private val statuses = mapOf("active" to KeyStatus.ACTIVE, "verify_only" to KeyStatus.VERIFY_ONLY, "retired" to KeyStatus.RETIRED)

fun main(args: Array<String>) {
    val root = File(args.getOrElse(0) { "." })
    val vectors = JsonParser.parseString(File(root, "tests/vectors/vectors.json").readText()).asJsonObject
    val codes = vectors["codes"].asJsonObject
    val keys = codes["keyring"].asJsonArray.map { it.asJsonObject }.map {
        KeyEntry(it["key_id"].asLong.toUInt(), hex(it["secret_hex"].asString), statuses.getValue(it["status"].asString))
    }
    val verifier = Verifier(keys, policy(codes["policy"].asJsonObject))

    for (case in vectors["hmac_rfc4231"].asJsonArray.map { it.asJsonObject }) {
        check("hmac ${case["case"]}") {
            assertEq(case["hmac_sha256_hex"].asString, hmacSha256(hex(case["key_hex"].asString), hex(case["data_hex"].asString)).toHex(), "hmac")
        }
    }

    val allKeys = (codes["keyring"].asJsonArray + codes["unlisted_keys"].asJsonArray).map { it.asJsonObject }
    for (case in codes["mint"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }) {
        check("mint ${case["name"].asString}") {
            val keyId = case["key_id"].asLong
            val secret = hex(allKeys.first { it["key_id"].asLong == keyId }["secret_hex"].asString)
            val minter = Verifier(listOf(KeyEntry(keyId.toUInt(), secret, KeyStatus.ACTIVE)), policy(codes["policy"].asJsonObject))
            val req = case["request"].asJsonObject
            val campaign = if (req["campaign"].isJsonNull) null else req["campaign"].asLong.toUInt()
            val code = minter.mint(MintRequest(req["program_id"].asLong.toUInt(), referrer(req["referrer"].asJsonObject), channels.getValue(req["channel"].asString), campaign), case["now"].asLong.toULong())
            assertEq(case["code"].asString, code, "code")
            if (!sameClaims(claims(case["claims"].asJsonObject), peekUnverified(code))) throw AssertionError("peeked claims differ")
        }
    }

    for (case in codes["verify"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }) {
        check("verify ${case["name"].asString}") {
            val result = try { Result.success(verifier.verify(case["code"].asString, case["now"].asLong.toULong())) } catch (e: ReferralException.Code) { Result.failure(e) }
            if (case.has("error")) {
                val error = result.exceptionOrNull() as? ReferralException.Code ?: throw AssertionError("expected ${case["error"]}, got $result")
                assertEq(case["error"].asString, error.reason, "reason")
            } else {
                if (!sameClaims(claims(case["ok"].asJsonObject), result.getOrThrow())) throw AssertionError("claims differ")
            }
        }
    }
    for (case in codes["peek"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }) {
        check("peek ${case["name"].asString}") {
            try {
                val peeked = peekUnverified(case["code"].asString)
                if (case.has("error")) throw AssertionError("expected ${case["error"]}")
                if (!sameClaims(claims(case["ok"].asJsonObject), peeked)) throw AssertionError("claims differ")
            } catch (e: ReferralException.Code) {
                assertEq(case["error"]?.asString, e.reason, "reason")
            }
        }
    }

    val share = vectors["share"].asJsonObject
    val message = ShareMessage(share["message"].asJsonObject["subject"].asString, share["message"].asJsonObject["body"].asString)
    val v = share["vars"].asJsonObject
    val vars = MessageVars(v["referrer_name"].asString, v["product"].asString, v["reward"].asString)
    for (case in share["cases"].asJsonArray.map { it.asJsonObject }) {
        check("share ${case["name"].asString}") {
            val o = case["link_options"].asJsonObject
            val utm = if (o.has("utm") && !o["utm"].isJsonNull) o["utm"].asJsonObject.let { Utm(it["source"].asString, it["campaign"].asString) } else null
            val channel = channels.getValue(case["channel"].asString)
            val link = referralUrl(LinkOptions(o["base_url"].asString, o["param"].asString, utm), case["code"].asString, channel)
            assertEq(case["link"].asString, link, "link")
            val a = case["action"].asJsonObject
            val expected = when (a["kind"].asString) {
                "copy" -> ShareAction.Copy(a["text"].asString)
                "open" -> ShareAction.Open(a["url"].asString)
                else -> ShareAction.NativeShare(a["title"].asString, a["text"].asString, a["url"].asString)
            }
            assertEq(expected, message.action(channel, link, vars), "action")
        }
    }
    for (case in share["invalid_templates"].asJsonArray.map { it.asJsonObject }) {
        check("template ${case["template"].asString}") {
            try {
                ShareMessage("s", case["template"].asString)
                throw AssertionError("accepted")
            } catch (e: ReferralException.Config) {
                assertEq(case["error"].asString, e.reason, "reason")
            }
        }
    }

    runDecisionVectors(vectors, verifier, ::check)
    runUserTokenVectors(vectors, verifier, ::check)
    runNudgeMergeVectors(vectors, ::check)

    // Error mapping: every public variant reachable from Kotlin.
    check("keyring exception") {
        try { Verifier(listOf(KeyEntry(1u, ByteArray(5), KeyStatus.ACTIVE)), policy(codes["policy"].asJsonObject)); throw AssertionError("accepted") }
        catch (e: ReferralException.Keyring) { assertEq("secret_too_short", e.reason, "reason") }
    }
    check("mint exception") {
        try { verifier.mint(MintRequest(7u, ReferrerId.Opaque(ByteArray(33)), Channel.LINK, null), 1_780_000_000uL); throw AssertionError("accepted") }
        catch (e: ReferralException.Mint) { assertEq("opaque_referrer_length", e.reason, "reason") }
    }
    check("config exception") {
        try { NudgeEngine.fromJson("{}"); throw AssertionError("accepted") }
        catch (e: ReferralException.Config) { assertEq("invalid_nudge_config", e.reason, "reason") }
    }
    check("invalid input exception") {
        try { normalizeEmail("no-at-sign"); throw AssertionError("accepted") }
        catch (e: ReferralException.InvalidInput) { assertEq("invalid_email", e.reason, "reason") }
    }
    check("ledger exception") {
        val ledger = RewardsLedger(Program(1u, ProgramKind.CUSTOMER, QualifyingEvent.SIGNUP, RewardRule.FreeMonths(1u), null, emptyList(), null, 0u, 0u))
        try { ledger.apply(LedgerEvent.Approved("e1", "nobody", 0uL)); throw AssertionError("accepted") }
        catch (e: ReferralException.Ledger) { assertEq("unknown_referral", e.reason, "reason") }
    }
    check("user token exception") {
        try { verifier.verifyUserToken("not a token", UserTokenPolicy("https://a.example", 60uL), 1_780_000_000uL); throw AssertionError("accepted") }
        catch (e: ReferralException.UserToken) { assertEq("malformed", e.reason, "reason") }
    }
    check("share exception") {
        try { referralUrl(LinkOptions("javascript:x", "ref", null), "C", Channel.LINK); throw AssertionError("accepted") }
        catch (e: ReferralException.Share) { assertEq("invalid_base_url", e.reason, "reason") }
    }

    // Cross-language: verify what Python minted, then mint for the Rust check.
    val fromPython = File(root, "target/cross/minted-by-python.json")
    if (fromPython.exists()) {
        for (item in JsonParser.parseString(fromPython.readText()).asJsonArray.map { it.asJsonObject }) {
            check("python-minted ${item["code"].asString}") {
                val verified = verifier.verify(item["code"].asString, item["now"].asLong.toULong())
                assertEq(item["referrer_hex"].asString, (verified.referrer as ReferrerId.Opaque).bytes.toHex(), "referrer")
            }
        }
    } else if (System.getenv("CI") == "true") {
        check("python-minted codes present") { throw AssertionError("${fromPython.path} missing: run the Python tests first") }
    }
    val minted = (1..5).map { i ->
        val referrer = "kt-user-$i".toByteArray()
        val code = verifier.mint(MintRequest(7u, ReferrerId.Opaque(referrer), Channel.values()[i], null), 1_780_000_000uL)
        """{"code":"$code","now":1780000100,"referrer_hex":"${referrer.toHex()}"}"""
    }
    File(root, "target/cross").mkdirs()
    File(root, "target/cross/minted-by-kotlin.json").writeText(minted.joinToString(",", "[", "]"))

    println("kotlin vectors: $passed passed, $failed failed")
    println("$passed passed, $failed failed")
    if (failed > 0 || passed == 0) exitProcess(1)
}
