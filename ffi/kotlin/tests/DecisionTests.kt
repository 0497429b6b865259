// Nudge, attribution, fraud, rewards and funnel vectors through the Kotlin bindings.
package dev.referralsdk.tests

import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import dev.referralsdk.*

private fun JsonObject.str(key: String): String? = if (has(key) && !get(key).isJsonNull) get(key).asString else null
private fun JsonObject.long(key: String): Long? = if (has(key) && !get(key).isJsonNull) get(key).asLong else null

private fun propertyValue(v: JsonElement): PropertyValue {
    val p = v.asJsonPrimitive
    return when {
        p.isBoolean -> PropertyValue.Bool(p.asBoolean)
        p.isNumber && p.asString.contains('.') -> PropertyValue.Float(p.asDouble)
        p.isNumber -> PropertyValue.Int(p.asLong)
        else -> PropertyValue.Text(p.asString)
    }
}

private fun expectedDecision(d: JsonObject): NudgeDecision =
    if (d["decision"].asString == "ask") {
        val why = d["why"].asJsonObject
        NudgeDecision.Ask(
            d["moment"].asString, d["variant"].asString, d["message"].asString, why["event"].asString,
            why["occurrence"].asLong.toUInt(), why.getAsJsonArray("bypassed")?.map { it.asString } ?: emptyList(),
            d.str("locale"),
            why.getAsJsonObject("deferred")?.let {
                NudgeDeferral(it["since"].asLong.toULong(), it["held_by"].asString, it["asked_on"].asString)
            },
        )
    } else {
        val r = d["reason"].asJsonObject
        NudgeDecision.Quiet(r["code"].asString, r.str("rule"), r.str("event"), r.long("seconds_ago")?.toULong(), r.long("until")?.toULong())
    }

private val outcomes = mapOf(
    "shown" to NudgeOutcome.SHOWN, "dismissed" to NudgeOutcome.DISMISSED, "opted_out" to NudgeOutcome.OPTED_OUT,
    "shared" to NudgeOutcome.SHARED, "referred" to NudgeOutcome.REFERRED,
)

// The vectors' spelling of a flag: its snake_case name, and its domain when it has one.
private fun flagKey(flag: FraudFlag): String = when (flag) {
    is FraudFlag.SameCompanyDomain -> "same_company_domain:${flag.domain}"
    is FraudFlag.DisposableEmail -> "disposable_email:${flag.domain}"
    else -> flag::class.simpleName!!.replace(Regex("([a-z])([A-Z])"), "$1_$2").lowercase()
}

fun runDecisionVectors(vectors: JsonObject, verifier: Verifier, check: (String, () -> Unit) -> Unit) {
    val nudge = vectors["nudge"].asJsonObject
    val plain = NudgeEngine.fromJson(nudge["config"].toString())
    val withExperiment = NudgeEngine.fromToml(nudge["config_toml"].asString)
    for (case in nudge["cases"].asJsonArray.map { it.asJsonObject }) {
        check("nudge ${case["name"].asString} ${case["user_id"].asString}") {
            // A case may bring its own config (translations per variant).
            val engine = if (case.has("config")) NudgeEngine.fromJson(case["config"].toString())
                else if (case["experiment"].asBoolean) withExperiment else plain
            val user = engine.newUser(case["user_id"].asString)
            for (step in case["steps"].asJsonArray.map { it.asJsonObject }) {
                val at = step["at"].asLong.toULong()
                if (step.has("event")) {
                    val event = step["event"].asJsonObject
                    val props = event.getAsJsonObject("properties")?.entrySet()?.associate { it.key to propertyValue(it.value) } ?: emptyMap()
                    val decision = user.evaluate(event["name"].asString, props, at, event.str("locale"))
                    val expected = expectedDecision(step["decision"].asJsonObject)
                    if (decision != expected) throw AssertionError("at $at expected $expected got $decision")
                } else {
                    user.record(outcomes.getValue(step["record"].asString), at)
                }
            }
            val state = JsonParser.parseString(String(user.toBytes()))
            if (state != case["final_state"]) throw AssertionError("final state $state != ${case["final_state"]}")
        }
    }
    for (case in nudge["invalid_configs"].asJsonArray.map { it.asJsonObject }) {
        check("invalid nudge config ${case["name"].asString}") {
            try {
                NudgeEngine.fromToml(case["toml"].asString)
                throw AssertionError("accepted")
            } catch (e: ReferralException.Config) {
                if (!e.detail.contains(case["expected_field"].asString)) throw AssertionError(e.detail)
            }
        }
    }
    // The same configs as JSON, and JSON-only shape errors: the same field.
    val jsonCases = nudge["invalid_configs"].asJsonArray + nudge["invalid_json_configs"].asJsonArray
    for (case in jsonCases.map { it.asJsonObject }) {
        check("invalid JSON nudge config ${case["name"].asString}") {
            try {
                NudgeEngine.fromJson(case["json"].toString())
                throw AssertionError("accepted")
            } catch (e: ReferralException.Config) {
                if (!e.detail.contains("`" + case["expected_field"].asString + "`")) throw AssertionError(e.detail)
            }
        }
    }

    val attribution = vectors["attribution"].asJsonObject
    val typed = attribution["typed_code"].asJsonObject
    check("typed code") {
        val code = verifier.typedCode(typed["program_id"].asLong.toUInt(), typed["referrer"].asLong.toULong())
        if (code != typed["code"].asString) throw AssertionError(code)
    }
    val methods = mapOf("link" to CaptureMethod.LINK, "typed_code" to CaptureMethod.TYPED_CODE, "deep_link" to CaptureMethod.DEEP_LINK, "install_referrer" to CaptureMethod.INSTALL_REFERRER)
    for (case in attribution["cases"].asJsonArray.map { it.asJsonObject }) {
        check("attribution ${case["name"].asString}") {
            val p = case["policy"].asJsonObject
            val policy = AttributionPolicy(p["window_secs"].asLong.toULong(), if (p["touch"].asString == "first_touch") Touch.FIRST_TOUCH else Touch.LAST_TOUCH, p["allow_same_company_domain"].asBoolean, p["max_rewards_per_month"].asLong.toUInt())
            val captures = case["captures"].asJsonArray.map { it.asJsonObject }.map { CapturedReferral(it["code"].asString, it["captured_at"].asLong.toULong(), methods.getValue(it["method"].asString)) }
            val s = case["signup"].asJsonObject
            val signup = Signup(s["account_id"].asString, s["email"].asString, s.str("company_domain"), s["at"].asLong.toULong(), s.str("network_prefix_hash"))
            val referrers = case["referrers"].asJsonArray.map { it.asJsonObject }.map {
                val id = it["referrer"].asJsonObject
                val referrer = if (id.has("numeric")) ReferrerId.Numeric(id["numeric"].asLong.toULong()) else ReferrerId.Opaque(ByteArray(0))
                ReferrerInfo(referrer, it["account_id"].asString, it["email_domain"].asString, it.str("network_prefix_hash"), it.str("referred_by_account"), (it.long("rewards_this_month") ?: 0).toUInt())
            }
            val outcome = verifier.attribute(policy, captures, signup, referrers, case["known"].asJsonObject.str("account_with_same_normalized_email"))
            val expected = case["expected"].asJsonObject
            when (outcome) {
                is AttributionOutcome.Attributed -> {
                    if (expected["outcome"].asString != "attributed") throw AssertionError("attributed, expected $expected")
                    if (outcome.referrerAccount != expected["referrer_account"].asString) throw AssertionError(outcome.referrerAccount)
                    if (outcome.review != expected["review"].asBoolean) throw AssertionError("review")
                    val flags = outcome.flags.map { flagKey(it) }
                    val expectedFlags = expected["flags"].asJsonArray.map { it.asJsonObject }.map { f -> f["flag"].asString + (f.str("domain")?.let { ":$it" } ?: "") }
                    if (flags != expectedFlags) throw AssertionError("flags $flags, expected $expectedFlags")
                    if (outcome.setAside.map { it.reason } != expected["set_aside"].asJsonArray.map { it.asJsonObject["reason"].asString }) throw AssertionError("set aside")
                }
                is AttributionOutcome.NotAttributed -> {
                    if (outcome.reason != expected["reason"].asJsonObject["code"].asString) throw AssertionError("${outcome.reason} vs $expected")
                }
            }
        }
    }

    val fraud = vectors["fraud"].asJsonObject
    for (case in fraud["normalize_email"].asJsonArray.map { it.asJsonObject }) {
        check("normalize ${case["email"].asString}") {
            try {
                val n = normalizeEmail(case["email"].asString)
                if (n != case.str("normalized")) throw AssertionError(n)
            } catch (e: ReferralException.InvalidInput) {
                if (e.reason != case.str("error")) throw AssertionError(e.reason)
            }
        }
    }
    for (case in fraud["disposable_domains"].asJsonArray.map { it.asJsonObject }) {
        check("disposable ${case["domain"].asString}") {
            if (isDisposableDomain(case["domain"].asString) != case["disposable"].asBoolean) throw AssertionError("mismatch")
        }
    }

    val rewards = vectors["rewards"].asJsonObject
    fun money(m: JsonElement?): Money? = if (m == null || m.isJsonNull) null else m.asJsonObject.let { Money(it["amount_minor"].asLong, it["currency"].asString) }
    fun rule(r: JsonObject): RewardRule = when (r["type"].asString) {
        "account_credit" -> RewardRule.AccountCredit(money(r["amount"])!!)
        "free_months" -> RewardRule.FreeMonths(r["months"].asLong.toUInt())
        else -> throw AssertionError("rule ${r["type"]} not used by the vectors")
    }
    fun program(): Program {
        val p = rewards["program"].asJsonObject
        val cap = p["cap"].asJsonObject
        return Program(
            p["id"].asLong.toUInt(), ProgramKind.CUSTOMER, QualifyingEvent.FIRST_PAYMENT, rule(p["referrer_reward"].asJsonObject), rule(p["friend_reward"].asJsonObject),
            p["tiers"].asJsonArray.map { it.asJsonObject }.map { Tier(it["from_count"].asLong.toUInt(), rule(it["reward"].asJsonObject)) },
            Cap(Period.MONTH, cap.long("max_rewards")?.toUInt(), money(cap["max_amount"])), p["hold_days"].asLong.toUInt(), p["clawback_days"].asLong.toUInt(),
            currency = p.str("currency") ?: throw AssertionError("the vector program names its currency"),
        )
    }
    fun ledgerEvent(e: JsonObject): LedgerEvent {
        val id = e["event_id"].asString
        val at = e["at"].asLong.toULong()
        return when (e["type"].asString) {
            "attributed" -> LedgerEvent.Attributed(id, e["referral_id"].asString, e["referrer_account"].asString, e["friend_account"].asString, e["review"].asBoolean, at)
            "payment" -> LedgerEvent.Payment(id, e["referral_id"].asString, at, money(e["amount"])!!, money(e["acv"]))
            "approved" -> LedgerEvent.Approved(id, e["referral_id"].asString, at)
            "reversal" -> LedgerEvent.Reversal(id, e["referral_id"].asString, at, ReversalReason.valueOf(e["reason"].asString.uppercase()))
            "paid" -> LedgerEvent.Paid(id, e["entry_id"].asString, at)
            "adjustment" -> LedgerEvent.Adjustment(id, e["referral_id"].asString, Side.valueOf(e["side"].asString.uppercase()), money(e["amount"])!!, e["reason"].asString, at)
            else -> throw AssertionError("event ${e["type"]}")
        }
    }
    val steps = rewards["steps"].asJsonArray.map { it.asJsonObject }
    val at = rewards["at"].asLong.toULong()
    // Statuses, balances and velocity counts after the steps, as the vectors have them.
    fun checkAfterSteps(ledger: RewardsLedger, what: String) {
        val statuses = ledger.entries(at).associate { it.id to it.status }
        val expectedStatuses = rewards["statuses"].asJsonArray.map { it.asJsonObject }
        if (statuses.size != expectedStatuses.size) throw AssertionError("$what: ${statuses.size} entries")
        for (s in expectedStatuses) {
            if (statuses[s["entry"].asString] != EntryStatus.valueOf(s["status"].asString.uppercase())) throw AssertionError("$what: status of ${s["entry"]}")
        }
        val balances = ledger.balances(at).associateBy { it.beneficiary }
        for (b in rewards["balances"].asJsonArray.map { it.asJsonObject }) {
            val got = balances[b["beneficiary"].asString] ?: throw AssertionError("$what: no balance for ${b["beneficiary"]}")
            val expected = b["balance"].asJsonObject["money"].asJsonArray.map { it.asJsonObject }
                .map { MoneyLine(EntryStatus.valueOf(it["status"].asString.uppercase()), it["currency"].asString, it["amount_minor"].asLong) }
            if (got.money != expected) throw AssertionError("$what: balance of ${b["beneficiary"]}: ${got.money}")
        }
        val earned = rewards["rewards_this_month_when_earned"].asJsonObject
        for ((now, expected) in listOf(at to rewards["rewards_this_month"].asJsonArray, earned["at"].asLong.toULong() to earned["expected"].asJsonArray)) {
            for (x in expected.map { it.asJsonObject }) {
                val got = ledger.rewardsThisMonth(x["account"].asString, now)
                if (got.toLong() != x["rewards_this_month"].asLong) throw AssertionError("$what: rewards_this_month of ${x["account"]} at $now: $got")
            }
        }
    }
    check("rewards ledger steps") {
        val ledger = RewardsLedger(program())
        val refusals = mutableSetOf<String>()
        for (step in steps) {
            val id = step["event"].asJsonObject["event_id"].asString
            try {
                val applied = ledger.apply(ledgerEvent(step["event"].asJsonObject))
                val expected = step["applied"]?.asJsonObject ?: throw AssertionError("$id applied, expected error ${step["error"]}")
                if (applied.outcome != expected["outcome"].asString) throw AssertionError("$id: ${applied.outcome} vs $expected")
            } catch (err: ReferralException.Ledger) {
                if (err.reason != step.str("error")) throw AssertionError("$id: ${err.reason} vs ${step["error"]}")
                refusals += err.reason
            }
        }
        if ("currency_mismatch" !in refusals) throw AssertionError("no payment refused for its currency")
        checkAfterSteps(ledger, "applied")
        checkAfterSteps(RewardsLedger.restore(program(), ledger.toBytes()), "restored")
    }
    check("rewards ledger: the single-ledger format restores") {
        val old = rewards["single_ledger"].toString().toByteArray()
        val ledger = RewardsLedger.restore(program(), old)
        checkAfterSteps(ledger, "single ledger")
        for (step in steps) {
            val id = step["event"].asJsonObject["event_id"].asString
            try {
                val applied = ledger.apply(ledgerEvent(step["event"].asJsonObject))
                if (step.has("error") || applied.outcome != "duplicate") throw AssertionError("$id again: ${applied.outcome}")
            } catch (err: ReferralException.Ledger) {
                if (err.reason != step.str("error")) throw AssertionError("$id again: ${err.reason} vs ${step["error"]}")
            }
        }
        checkAfterSteps(RewardsLedger.restore(program(), ledger.toBytes()), "single ledger saved again")
        try { RewardsLedger.restore(program(), "{}".toByteArray()); throw AssertionError("accepted {}") }
        catch (e: ReferralException.InvalidInput) { if (e.reason != "invalid_ledger") throw AssertionError(e.reason) }
    }
    check("funnel: widget events to stages") {
        val cases = vectors["funnel"].asJsonObject["widget_stages"].asJsonArray.map { it.asJsonObject }
        for (kind in listOf("impression", "share", "copy", "dismiss", "opt_out")) {
            if (cases.none { it["event"].asString == kind }) throw AssertionError("no widget_stages vector for $kind")
        }
        for (c in cases) {
            val expected = c.str("stage")?.let { Stage.valueOf(it.uppercase()) }
            val got = funnelStageOfWidgetEvent(c["event"].asString)
            if (got != expected) throw AssertionError("${c["event"]}: $got vs $expected")
        }
    }
    runLiftVectors(vectors, check)
    runBillingVectors(vectors, check)
}

private fun billingAccount(j: JsonObject): BillingAccount = when (j["by"].asString) {
    "account" -> BillingAccount.Account(j["id"].asString)
    "customer" -> BillingAccount.Customer(j["id"].asString)
    else -> BillingAccount.Charge(j["id"].asString)
}

private fun money(j: JsonElement?): Money? =
    if (j == null || j.isJsonNull) null else j.asJsonObject.let { Money(it["amount_minor"].asLong, it["currency"].asString) }

private fun billingFact(j: JsonObject): BillingFact = when (j["kind"].asString) {
    "payment" -> BillingFact.Payment(money(j["amount"])!!, money(j["acv"]))
    "refund" -> BillingFact.Refund
    "chargeback" -> BillingFact.Chargeback
    else -> BillingFact.Cancellation
}

fun runBillingVectors(vectors: JsonObject, check: (String, () -> Unit) -> Unit) {
    val billing = vectors["billing"].asJsonObject
    for (case in billing["stripe_events"].asJsonArray.map { it.asJsonObject }) {
        check("stripe event ${case["name"].asString}") {
            val expected = case["expected"].asJsonObject
            val call = { stripeMapEvent(case["body"].asString, case["live_mode"].asBoolean, case["account_key"].asString) }
            if (expected.has("error")) {
                try { call(); throw AssertionError("accepted") }
                catch (e: ReferralException.InvalidInput) { if (e.reason != expected["error"].asString) throw AssertionError(e.reason) }
                return@check
            }
            val b = expected["billing"]
            val want = StripeMapped(
                expected["event_id"].asString, expected["event_type"].asString,
                expected["links"].asJsonArray.map { l -> l.asJsonArray.let { StripeLink(it[0].asString, billingAccount(it[1].asJsonObject)) } },
                if (b.isJsonNull) null else b.asJsonObject.let {
                    BillingEvent(it["event_id"].asString, billingAccount(it["account"].asJsonObject), billingFact(it["fact"].asJsonObject), it["at"].asLong.toULong())
                },
                expected.str("ignored"),
            )
            val got = call()
            if (got != want) throw AssertionError("$got != $want")
        }
    }
    for (case in billing["stripe_signatures"].asJsonArray.map { it.asJsonObject }) {
        check("stripe signature ${case["name"].asString}") {
            val expected = case["expected"].asJsonObject
            val call = {
                stripeVerifySignature(case["header"].asString, case["body"].asString.toByteArray(),
                    case["secrets"].asJsonArray.map { it.asString }, case["now"].asLong.toULong(), case["tolerance_secs"].asLong.toULong())
            }
            if (expected.has("timestamp")) {
                val t = call()
                if (t != expected["timestamp"].asLong.toULong()) throw AssertionError("$t")
            } else {
                try { call(); throw AssertionError("accepted") }
                catch (e: ReferralException.InvalidInput) { if (e.reason != expected["error"].asString) throw AssertionError(e.reason) }
            }
        }
    }
    check("billing: the first-year value rule") {
        for (c in billing["first_year_value"].asJsonArray.map { it.asJsonObject }) {
            val interval = BillingInterval.valueOf(c["interval"].asString.uppercase())
            val got = billingFirstYearValue(c["amount_minor"].asLong, interval, c["count"].asLong.toUInt())
            if (got != c["expected"].asLong) throw AssertionError("${c}: $got")
        }
    }
}

private fun JsonObject.interval(key: String): JsonObject? = if (has(key) && !get(key).isJsonNull) getAsJsonObject(key) else null

private fun close(a: Double, b: Double) = Math.abs(a - b) <= 1e-9 * maxOf(1.0, Math.abs(b))

private fun checkInterval(what: String, got: LiftInterval?, expected: JsonObject?) {
    if ((got == null) != (expected == null)) throw AssertionError("$what: $got vs $expected")
    if (got == null || expected == null) return
    for ((name, value) in listOf("estimate" to got.estimate, "low" to got.low, "high" to got.high)) {
        if (!close(value, expected[name].asDouble)) throw AssertionError("$what.$name: $value vs ${expected[name]}")
    }
}

private fun checkComparison(what: String, got: LiftComparison?, expected: JsonObject?) {
    if ((got == null) != (expected == null)) throw AssertionError("$what: $got vs $expected")
    if (got == null || expected == null) return
    checkInterval("$what.absolute", got.absolute, expected.getAsJsonObject("absolute"))
    val relative = expected.interval("relative")
    val gotRelative = got.relative
    if ((gotRelative == null) != (relative == null)) throw AssertionError("$what.relative: $gotRelative vs $relative")
    if (gotRelative == null || relative == null) return
    val estimate = if (relative["estimate"].isJsonNull) null else relative["estimate"].asDouble
    if ((gotRelative.estimate == null) != (estimate == null) ||
        (estimate != null && !close(gotRelative.estimate!!, estimate))) throw AssertionError("$what.relative.estimate")
    if (!close(gotRelative.low, relative["low"].asDouble) || !close(gotRelative.high, relative["high"].asDouble)) {
        throw AssertionError("$what.relative interval")
    }
}

private fun tally(g: JsonObject) = LiftGroupTally(
    g["users"].asLong.toULong(), g["asked"].asLong.toULong(), g["shared"].asLong.toULong(),
    g["referrers"].asLong.toULong(), g["signups"].asLong.toULong(), g["signups_squared"].asLong.toULong(),
    g["paid"].asLong.toULong(), g["paid_squared"].asLong.toULong(),
)

private fun checkReport(name: String, got: LiftReport, expected: JsonObject) {
    for ((group, report) in listOf("treatment" to got.treatment, "holdout" to got.holdout)) {
        val e = expected.getAsJsonObject(group)
        if (report.tally != tally(e)) throw AssertionError("$name $group tally")
        checkInterval("$name $group.referrer_rate", report.referrerRate, e.interval("referrer_rate"))
        checkInterval("$name $group.signups_per_user", report.signupsPerUser, e.interval("signups_per_user"))
        checkInterval("$name $group.paid_per_user", report.paidPerUser, e.interval("paid_per_user"))
    }
    checkComparison("$name referrer_rate", got.referrerRate, expected.interval("referrer_rate"))
    checkComparison("$name signups_per_user", got.signupsPerUser, expected.interval("signups_per_user"))
    checkComparison("$name paid_per_user", got.paidPerUser, expected.interval("paid_per_user"))
    val verdict = expected.getAsJsonObject("verdict")
    if (liftVerdictCode(got.verdict) != verdict["code"].asString) throw AssertionError("$name verdict ${got.verdict}")
    when (val v = got.verdict) {
        is LiftVerdict.NotEnoughData -> {
            if (v.moreHoldoutUsers?.toLong() != verdict.long("more_holdout_users") ||
                v.moreTreatmentUsers?.toLong() != verdict.long("more_treatment_users")) throw AssertionError("$name users needed $v")
        }
        else -> {}
    }
    if (got.summary != expected["summary"].asString) throw AssertionError("$name summary: ${got.summary}")
}

fun runLiftVectors(vectors: JsonObject, check: (String, () -> Unit) -> Unit) {
    val lift = vectors["lift"].asJsonObject
    for (case in lift["cases"].asJsonArray.map { it.asJsonObject }) {
        check("lift ${case["name"].asString}") {
            val t = case.getAsJsonObject("tallies")
            val o = case.getAsJsonObject("options")
            val report = liftReport(
                LiftTallies(tally(t.getAsJsonObject("treatment")), tally(t.getAsJsonObject("holdout"))),
                LiftOptions(o["holdout_basis_points"].asLong.toUInt(), o["min_relative_lift"].asDouble),
            )
            checkReport(case["name"].asString, report, case.getAsJsonObject("report"))
        }
    }
    check("lift: per-user outcomes sum into tallies") {
        val outcomes = lift.getAsJsonObject("outcomes")
        val users = outcomes["users"].asJsonArray.map { it.asJsonObject }.map {
            UserOutcome(it["holdout"].asBoolean, it["asked"].asBoolean, it["shared"].asBoolean,
                it["referred_signups"].asLong.toUInt(), it["referred_paid"].asLong.toUInt())
        }
        val tallies = liftTallies(users)
        val expected = outcomes.getAsJsonObject("tallies")
        if (tallies.treatment != tally(expected.getAsJsonObject("treatment")) ||
            tallies.holdout != tally(expected.getAsJsonObject("holdout"))) throw AssertionError("tallies $tallies")
        checkReport("outcomes", liftReport(tallies, LiftOptions(1000u, 0.2)), outcomes.getAsJsonObject("report"))
    }
}
