"""Insights on four focus areas, written from figures computed over the whole table.

In Snowflake the figures go into a prompt for Cortex; locally (no Cortex), or when Cortex fails,
the app writes each section itself from the same figures, and says so.

Three rules keep the insights honest: a dimension filtered to one value is never compared (there
is nothing to compare it with); no group with fewer than MIN_GROUP_RECORDS decided
recommendations is named (its rate is noise); and every sentence about a list in the app says
what that list actually shows.
"""

from finmatch.data.filters import Filters
from finmatch.formats import money, score, share
from finmatch.settings import ACTION_LIST_SIZE, HIGH_AFFINITY, MIN_GROUP_RECORDS

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
        **data.opportunity_figures(filters),
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
            "avg_churn_probability": float(row["avg_churn_probability"]),
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


def _best_and_worst(rows):
    ranked = sorted(rows, key=lambda row: (row["acceptance_rate"], str(row["value"])))
    return (ranked[-1], ranked[0]) if ranked else (None, None)


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
            lines.append(f"Acceptance by {singular}: " + "; ".join(_group(row) for row in rows))
    return "\n".join(lines)


def cortex_prompt(focus, stats):
    return (
        "You are an analyst for a bank's product recommendation programme. Using only the figures below, "
        f"write a short, specific assessment of: {focus}. Name the figures you rely on, and end with two or "
        "three concrete actions. Acceptance rate means accepted divided by decided (accepted plus declined). "
        "Name only the groups listed below, each with the dimension it belongs to (product recommended, segment or "
        "lifecycle stage); do not compare anything else. The product recommended is not the product the customer "
        "already holds.\n\nFigures:\n" + statistics_text(stats)
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
        best, worst = _best_and_worst(rows)
        text += f" By product recommended, best acceptance: {_group(best)}; weakest: {_group(worst)}."
    else:
        text += " " + _not_compared(stats, "by_product", "products recommended")
    return text + f" Groups with fewer than {MIN_GROUP_RECORDS} decided recommendations are not named."


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
        _, worst = _best_and_worst(rows)
        text += f" By segment, {worst['value']} accepts least ({_rate(worst)}): test a different product mix there."
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
    if average is not None and stats["open_high_affinity"]:
        estimate = 0.1 * stats["open_high_affinity"] * average
        text += (
            f" If one in ten of the {stats['open_high_affinity']:,} open high-affinity recommendations were accepted "
            f"and sold at that average, sales after acceptance would grow by about **{money(estimate)}** "
            "(an estimate from past averages, not a measured result)."
        )
    return text


def _strategic(stats):
    text = (
        f"**{stats['at_risk']:,}** customers combine a churn probability of 0.7 or more with satisfaction under 0.3: "
        "contact them with retention offers before cross-selling."
    )
    stages = comparable(stats, "by_stage")
    if stages:
        riskiest = max(stages, key=lambda row: (row["avg_churn_probability"], str(row["value"])))
        text += (
            f" By lifecycle stage, {riskiest['value']} has the highest average churn "
            f"({score(riskiest['avg_churn_probability'])} over {riskiest['records']} records): "
            "design its next touchpoint first."
        )
    products = comparable(stats, "by_product")
    if products:
        best, _ = _best_and_worst(products)
        text += (
            f" By product recommended, lead marketing with {best['value']}, the product accepted most when "
            f"recommended ({_rate(best)}); Match and the campaign lists rank it from the same acceptance."
        )
    return text


_WRITERS = {
    "Overall performance": _overall,
    "Optimisation opportunities": _optimisation,
    "Financial impact": _financial,
    "Strategic recommendations": _strategic,
}
