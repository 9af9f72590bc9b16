"""Insights on four focus areas, written from figures computed over the whole table.

In Snowflake the figures go into a prompt for Cortex; locally (no Cortex), or when Cortex fails,
the app writes each section itself from the same figures, and says so.

Three rules keep the insights honest: a dimension filtered to one value is never compared (there
is nothing to compare it with); no group with fewer than MIN_GROUP_RECORDS decided
recommendations is named (its rate is noise); and every sentence about a list in the app says
what that list actually shows.
"""

from finmatch.analysis.claims import acceptance_difference, churn_difference, projection
from finmatch.data.answers import number
from finmatch.data.filters import Filters
from finmatch.formats import money, score, share
from finmatch.inference import p_in_words, significant
from finmatch.settings import ACTION_LIST_SIZE, HIGH_AFFINITY, INTERVAL_LEVEL, MIN_GROUP_RECORDS, STALE_OPEN_DAYS

FOCUS_AREAS = (
    "Overall performance",
    "Optimisation opportunities",
    "Financial impact",
    "Strategic recommendations",
)
COMPUTED_LABEL = "Computed from the figures by FinMatch (no AI model was used)."
# Acceptance is always compared by the product recommended (what the customer accepted or declined),
# the dimension Match ranks products by; never by the product the customer already holds.
DIMENSIONS = (
    ("by_product", "product_recommendation", "product recommended", "products recommended"),
    ("by_segment", "customer_segment", "segment", "segments"),
    ("by_stage", "customer_lifecycle_stage", "lifecycle stage", "lifecycle stages"),
)


def gather_statistics(data, filters, today):
    """Everything the insights speak of, for the filtered selection and the whole portfolio.

    Args:
        data: an FprData (or anything answering the same questions, such as a cache in front of one).
        filters: the sidebar's Filters.
        today: the date open recommendations are aged on.
    """
    actions = data.action_list(filters, today, ACTION_LIST_SIZE)
    stats = {
        "selection": data.kpis(filters),
        "portfolio": data.kpis(Filters()),
        "fixed": sorted(filters.fixed_columns()),
        "top_actions": min(len(actions), ACTION_LIST_SIZE),
        "top_actions_high_affinity": int(
            (actions["customer_product_affinity"].head(ACTION_LIST_SIZE) >= HIGH_AFFINITY).sum()
        ),
        **data.opportunity_figures(filters, today),
    }
    for key, column, _, _ in DIMENSIONS:
        stats[key] = _rows(data.acceptance_by(column, filters))
    return stats


def _rows(frame):
    return [
        {
            "value": row["value"],
            "records": int(row["records"]),
            "decided": int(row["decided"]),
            "acceptance_rate": None if row["acceptance_rate"] is None else float(row["acceptance_rate"]),
            "accepted": int(row["accepted"]),
            "avg_churn_probability": float(row["avg_churn_probability"]),
            "n_churn": int(row["n_churn"]),
            "sd_churn": number(row["sd_churn"]),
        }
        for _, row in frame.iterrows()
    ]


def comparable(stats, key):
    """The groups of one dimension that may be named, or [] when the dimension cannot be compared.

    A dimension filtered to one value is never compared; groups with fewer than MIN_GROUP_RECORDS
    decided recommendations are left out; at least two groups must remain.
    """
    column = next(column for k, column, _, _ in DIMENSIONS if k == key)
    if column in stats["fixed"]:
        return []
    rows = [row for row in stats[key] if row["decided"] >= MIN_GROUP_RECORDS and row["acceptance_rate"] is not None]
    return rows if len(rows) >= 2 else []


def _rate(row):
    return f"{share(row['acceptance_rate'])} accepted of {row['decided']} decided"


def _group(row):
    return f"{row['value']} {_rate(row)}"


def statistics_text(stats):
    """The figures as plain lines: the body of the Cortex prompt."""
    s, p = stats["selection"], stats["portfolio"]
    lines = [
        f"Records in selection: {s['records']} (portfolio: {p['records']})",
        f"Decided (accepted or declined): {s['decided']}; still open (Pending or In Progress): {s['still_open']}",
        f"Acceptance rate (accepted / decided): {share(s['acceptance_rate'])} "
        f"(portfolio: {share(p['acceptance_rate'])})",
        f"Share still open: {share(s['open_share'])}",
        f"Average recommendation score: {score(s['avg_recommendation_score'])}",
        f"Average customer satisfaction: {score(s['avg_satisfaction'])}",
        f"Average churn probability: {score(s['avg_churn_probability'])}",
        f"Sales after acceptance (accepted, sale dated on or after the recommendation): "
        f"{money(s['sales_after_acceptance'])} over {s['sales_after_acceptance_count']} sales",
        f"Average sale after acceptance: {money(stats['avg_sale_after_acceptance'])}",
        f"Average account balance: {money(s['avg_balance'])}",
        f"Open recommendations with affinity >= {HIGH_AFFINITY}: {stats['open_high_affinity']}",
        f"Customers with churn >= 0.7 and satisfaction < 0.3: {stats['at_risk']}",
        f"Declined recommendations: {stats['declined']}",
    ]
    for key, _, singular, _ in DIMENSIONS:
        rows = comparable(stats, key)
        if rows:
            p_value = acceptance_difference(rows)[0]
            verdict = "a real difference" if significant(p_value) else "NOT significant: do not call any group better"
            lines.append(
                f"Acceptance by {singular}: "
                + "; ".join(_group(row) for row in rows)
                + f" (Pearson's chi-square test: {p_in_words(p_value)}; {verdict})"
            )
    return "\n".join(lines)


def cortex_prompt(focus, stats):
    return (
        "You are an analyst for a bank's product recommendation programme. Using only the figures below, "
        f"write a short, specific assessment of: {focus}. Name the figures you rely on, and end with two or "
        "three concrete actions. Acceptance rate means accepted divided by decided (accepted plus declined). "
        "Name only the groups listed below, each with the dimension it belongs to (product recommended, segment or "
        "lifecycle stage); do not compare anything else. The product recommended is not the product the customer "
        "already holds. State a difference between groups only where the figures call it a real difference, and "
        "project nothing the figures do not measure.\n\nFigures:\n" + statistics_text(stats)
    )


def computed_insight(focus, stats):
    """The insight for one focus area, written from the figures (markdown)."""
    if stats["selection"]["records"] == 0:
        return "No records match the filters."
    return _WRITERS[focus](stats)


def _not_compared(stats, key, plural):
    column = next(column for k, column, _, _ in DIMENSIONS if k == key)
    if column in stats["fixed"]:
        return f"{plural.capitalize()} are not compared: the filters select only one."
    return (
        f"{plural.capitalize()} are not compared: fewer than two have {MIN_GROUP_RECORDS} or more decided "
        "recommendations in this selection."
    )


def _overall(stats):
    s, p = stats["selection"], stats["portfolio"]
    text = (
        f"{s['records']:,} recommendations in the selection, {s['decided']:,} of them decided: "
        f"**{share(s['acceptance_rate'])}** "
        f"of decided recommendations were accepted (portfolio {share(p['acceptance_rate'])}), and "
        f"{share(s['open_share'])} are still Pending or In Progress. "
        f"Average recommendation score {score(s['avg_recommendation_score'])}, "
        f"satisfaction {score(s['avg_satisfaction'])}, churn probability {score(s['avg_churn_probability'])}."
    )
    rows = comparable(stats, "by_product")
    if rows:
        text += " " + _acceptance_claim(rows, "product recommended", "products recommended")
    else:
        text += " " + _not_compared(stats, "by_product", "products recommended")
    return text + f" Groups with fewer than {MIN_GROUP_RECORDS} decided recommendations are not named."


def _acceptance_claim(rows, singular, plural):
    """Best and weakest acceptance, named only when the chi-square test finds the difference larger than chance."""
    p_value, best, worst = acceptance_difference(rows)
    test = f"Pearson's chi-square test across the {len(rows)} {plural}, {p_in_words(p_value)}"
    if significant(p_value):
        return f"By {singular}, best acceptance: {_group(best)}; weakest: {_group(worst)} ({test})."
    return (
        f"By {singular}, acceptance ranges from {_rate(worst)} to {_rate(best)}, a spread chance alone explains "
        f"({test}): no {singular} can be called better."
    )


def _optimisation(stats):
    text = (
        f"**{stats['open_high_affinity']:,}** open recommendations are for customers whose product affinity is "
        f"{HIGH_AFFINITY} or more (the High affinity band). *Who to act on* ranks customers by the action score of "
        f"their most urgent open recommendation, churn risk first: {stats['top_actions_high_affinity']} of its top "
        f"{stats['top_actions']} have that affinity. "
        f"{stats['declined']:,} recommendations were declined; review their terms before offering again."
    )
    rows = comparable(stats, "by_segment")
    if rows:
        p_value, _, worst = acceptance_difference(rows)
        test = f"Pearson's chi-square test across the {len(rows)} segments, {p_in_words(p_value)}"
        text += _as_tested(
            p_value,
            f" By segment, {worst['value']} accepts least ({_rate(worst)}; {test}): test a different product mix "
            "there.",
            f" By segment, acceptance differs by no more than chance ({test}): no segment stands out.",
        )
    else:
        text += " " + _not_compared(stats, "by_segment", "segments")
    return text


def _financial(stats):
    s = stats["selection"]
    average = stats["avg_sale_after_acceptance"]
    text = (
        f"Sales after acceptance total **{money(s['sales_after_acceptance'])}** over "
        f"{s['sales_after_acceptance_count']:,} sales: accepted recommendations whose sale is dated on or after the "
        f"recommendation, {money(average)} each on average. Sales of declined or open recommendations, and sales "
        f"dated before the recommendation, are not counted. Average balance {money(s['avg_balance'])}, "
        f"average transaction value {money(s['avg_transaction_value'])}."
    )
    return text + " " + _projection_text(stats)


def _projection_text(stats):
    """What the open high-affinity recommendations may bring, from measured rates only, with its range."""
    recent, stale = stats["open_high_affinity_recent"], stats["open_high_affinity"] - stats["open_high_affinity_recent"]
    stale_words = (
        f"{stale:,} open high-affinity recommendations are older than {STALE_OPEN_DAYS} days and count as not accepted"
    )
    if not recent:
        return f"No projection: {stale_words}, and none is younger."
    projected = projection(
        recent,
        stats["accepted_high_affinity"],
        stats["decided_high_affinity"],
        stats["sales_after_acceptance"],
        stats["avg_sale_after_acceptance"],
        stats["sd_sale_after_acceptance"],
    )
    if projected is None:
        return f"No projection: no decided high-affinity recommendation or sale to measure from ({stale_words})."
    estimate, low, high = projected
    return (
        f"If the {recent:,} open high-affinity recommendations younger than {STALE_OPEN_DAYS} days are accepted as "
        f"decided high-affinity ones were ({stats['accepted_high_affinity']:,} of "
        f"{stats['decided_high_affinity']:,}) and sold at the average sale, they would bring about "
        f"**{money(estimate)}** ({INTERVAL_LEVEL:.0%} range {money(low)} to {money(high)}); {stale_words}."
    )


def _strategic(stats):
    text = (
        f"**{stats['at_risk']:,}** customers combine a churn probability of 0.7 or more with satisfaction under 0.3: "
        "contact them with retention offers before cross-selling (the Retention tab lists customers by value at risk)."
    )
    stages = comparable(stats, "by_stage")
    if stages:
        p_value, riskiest = churn_difference(stages)
        test = f"Welch's t test against the other stages together, {p_in_words(p_value)}"
        if significant(p_value):
            text += (
                f" By lifecycle stage, {riskiest['value']} has the highest average churn "
                f"({score(riskiest['avg_churn_probability'])} over {riskiest['records']} records; {test}): "
                "design its next touchpoint first."
            )
        else:
            text += (
                f" By lifecycle stage, average churn differs by no more than chance (the highest, "
                f"{riskiest['value']} at {score(riskiest['avg_churn_probability'])}; {test})."
            )
    products = comparable(stats, "by_product")
    if products:
        p_value, best, _ = acceptance_difference(products)
        test = f"Pearson's chi-square test, {p_in_words(p_value)}"
        text += _as_tested(
            p_value,
            f" By product recommended, lead marketing with {best['value']}, the product accepted most when "
            f"recommended ({_rate(best)}; {test}).",
            f" By product recommended, no product is accepted more often than chance explains ({test}): let each "
            "campaign's own model and value decide.",
        )
    return text


def _as_tested(p_value, claim, no_claim):
    """The claim when its test finds the difference larger than chance, otherwise the sentence that says it is not."""
    return claim if significant(p_value) else no_claim


_WRITERS = {
    "Overall performance": _overall,
    "Optimisation opportunities": _optimisation,
    "Financial impact": _financial,
    "Strategic recommendations": _strategic,
}
