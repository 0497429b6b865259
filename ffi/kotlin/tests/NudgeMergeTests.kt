// The shared vectors' nudge merge cases through the Kotlin bindings: two
// stored copies of one person's state merge, in either order, to what Rust
// wrote, or fail with its reason and leave the state as it was.
package dev.referralsdk.tests

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import dev.referralsdk.*

fun runNudgeMergeVectors(vectors: JsonObject, check: (String, () -> Unit) -> Unit) {
    val nudge = vectors["nudge"].asJsonObject
    val engine = NudgeEngine.fromJson(nudge["config"].toString())
    val cases = nudge["merge"].asJsonObject["cases"].asJsonArray.map { it.asJsonObject }
    check("nudge merge cases present") {
        if (cases.size < 15) throw AssertionError("only ${cases.size} merge cases")
    }
    for (case in cases) {
        val a = case["a"].toString().toByteArray()
        val b = case["b"].toString().toByteArray()
        for ((order, pair) in listOf("(a, b)" to (a to b), "(b, a)" to (b to a))) {
            check("nudge merge ${case["name"].asString} $order") {
                val user = engine.restoreUser(pair.first)
                if (case.has("error")) {
                    val before = user.toBytes()
                    try {
                        user.merge(pair.second)
                        throw AssertionError("merged")
                    } catch (e: ReferralException.InvalidInput) {
                        if (e.reason != case["error"].asString) throw AssertionError("reason ${e.reason}")
                    }
                    if (!user.toBytes().contentEquals(before)) throw AssertionError("a refused merge changed the state")
                } else {
                    user.merge(pair.second)
                    val merged = JsonParser.parseString(String(user.toBytes()))
                    if (merged != case["merged"]) throw AssertionError("merged $merged != ${case["merged"]}")
                }
            }
        }
    }
    check("nudge merge of an unreadable copy") {
        try {
            engine.newUser("u").merge("{\"v\": 99, \"user_id\": \"u\"}".toByteArray())
            throw AssertionError("merged")
        } catch (e: ReferralException.InvalidInput) {
            if (e.reason != "future_state_version") throw AssertionError("reason ${e.reason}")
        }
    }
}
