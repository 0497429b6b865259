// The shared vectors' user_tokens section through the Kotlin bindings, with
// the codes section's keys.
package dev.referralsdk.tests

import com.google.gson.JsonObject
import dev.referralsdk.*

private fun unhex(text: String): ByteArray = ByteArray(text.length / 2) { i -> text.substring(2 * i, 2 * i + 2).toInt(16).toByte() }

private fun tokenRequest(json: JsonObject) =
    UserTokenRequest(json["subject"].asString, json["audience"].asString, json["ttl_secs"].asLong.toULong())

private fun tokenClaims(json: JsonObject) = UserTokenClaims(
    json["key_id"].asLong.toUInt(), json["subject"].asString, json["audience"].asString,
    json["issued_at"].asLong.toULong(), json["expires_at"].asLong.toULong(),
)

fun runUserTokenVectors(vectors: JsonObject, verifier: Verifier, check: (String, () -> Unit) -> Unit) {
    val codes = vectors["codes"].asJsonObject
    val tokens = vectors["user_tokens"].asJsonObject
    val skew = tokens["policy"].asJsonObject["max_clock_skew_secs"].asLong.toULong()
    val policy = UserTokenPolicy(tokens["policy"].asJsonObject["audience"].asString, skew)
    val codePolicy = codes["policy"].asJsonObject.let {
        VerifyPolicy(it["program_id"].asLong.toUInt(), it["max_age_secs"].asLong.toULong(), it["max_clock_skew_secs"].asLong.toULong())
    }
    val allKeys = (codes["keyring"].asJsonArray + codes["unlisted_keys"].asJsonArray).map { it.asJsonObject }

    val mintCases = tokens["mint"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }
    check("user token mint cases use the active and the rotated-out key") {
        val keyIds = mintCases.map { it["key_id"].asLong }.toSet()
        if (!keyIds.containsAll(listOf(1L, 2L))) throw AssertionError("key ids $keyIds")
    }
    for (case in mintCases) {
        check("user token mint ${case["name"].asString}") {
            val keyId = case["key_id"].asLong
            val secret = unhex(allKeys.first { it["key_id"].asLong == keyId }["secret_hex"].asString)
            val minter = Verifier(listOf(KeyEntry(keyId.toUInt(), secret, KeyStatus.ACTIVE)), codePolicy)
            val request = tokenRequest(case["request"].asJsonObject)
            val now = case["now"].asLong.toULong()
            val token = minter.mintUserToken(request, now)
            if (token != case["token"].asString) throw AssertionError("token $token != ${case["token"]}")
            if (token.length != case["length"].asInt) throw AssertionError("length ${token.length}")
            val claims = verifier.verifyUserToken(token, UserTokenPolicy(request.audience, skew), now)
            if (claims != tokenClaims(case["claims"].asJsonObject)) throw AssertionError("claims $claims")
        }
    }

    val mintReasons = mutableSetOf<String>()
    for (case in tokens["mint_errors"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }) {
        check("user token mint refused: ${case["name"].asString}") {
            try {
                verifier.mintUserToken(tokenRequest(case["request"].asJsonObject), case["now"].asLong.toULong())
                throw AssertionError("minted")
            } catch (e: ReferralException.UserToken) {
                if (e.reason != case["error"].asString) throw AssertionError("${e.reason} vs ${case["error"]}")
                if (e.detail.isEmpty()) throw AssertionError("no detail")
                mintReasons += e.reason
            }
        }
    }
    check("user token mint refusals cover every reason") {
        if (mintReasons != setOf("invalid_subject", "invalid_audience", "invalid_ttl")) throw AssertionError("$mintReasons")
    }

    val verifyReasons = mutableSetOf<String>()
    for (case in tokens["verify"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }) {
        check("user token verify ${case["name"].asString}") {
            val result = try {
                Result.success(verifier.verifyUserToken(case["token"].asString, policy, case["now"].asLong.toULong()))
            } catch (e: ReferralException.UserToken) {
                Result.failure(e)
            }
            if (case.has("error")) {
                val error = result.exceptionOrNull() as? ReferralException.UserToken ?: throw AssertionError("expected ${case["error"]}, got $result")
                if (error.reason != case["error"].asString) throw AssertionError("${error.reason} vs ${case["error"]}")
                verifyReasons += error.reason
            } else {
                val claims = result.getOrThrow()
                if (claims != tokenClaims(case["ok"].asJsonObject)) throw AssertionError("claims $claims")
            }
        }
    }
    check("user token verify cases cover every reason") {
        val expected = setOf("malformed", "unsupported_version", "unknown_key", "retired_key", "bad_signature", "expired", "issued_in_future", "wrong_audience")
        if (!verifyReasons.containsAll(expected)) throw AssertionError("$verifyReasons")
    }
    check("user token minted in Kotlin verifies with the shared keyring") {
        val token = verifier.mintUserToken(UserTokenRequest("kt-user-1", policy.audience, 60uL), 1_780_000_000uL)
        val claims = verifier.verifyUserToken(token, policy, 1_780_000_030uL)
        if (claims.subject != "kt-user-1" || claims.keyId != verifier.activeKeyId()) throw AssertionError("$claims")
    }
}
