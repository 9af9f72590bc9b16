"""Insights on four focus areas, written from figures computed over the whole table.

In Snowflake the figures go into a prompt for Cortex; locally (no Cortex) the app writes
each section itself from the same figures, and says so.
"""

from finmatch_data import Filters

FOCUS_AREAS = (
    "Overall performance",
    "Optimisation opportunities",
    "Financial impact",
    "Strategic recommendations",
)
CORTEX_MODELS = ("claude-3-5-sonnet", "mistral-large2", "llama3.1-70b", "snowflake-arctic")
COMPUTED_LABEL = "Computed from the figures by FinMatch (no AI model was used)."


def gather_statistics(data, filters):
    """Everything the insights speak of, for the filtered selection and the whole portfolio."""
    return {
        "selection": data.kpis(filters),
        "portfolio": data.kpis(Filters()),
        "by_product_type": _rows(data.acceptance_by("product_type", filters)),
        "by_segment": _rows(data.acceptance_by("customer_segment", filters)),
        "by_stage": _rows(data.acceptance_by("customer_lifecycle_stage", filters)),
        **data.opportunity_figures(filters),
    }


def _rows(frame):
    return [
        {
            "value": row["value"],
            "records": int(row["records"]),
            "acceptance_rate": float(row["acceptance_rate"]),
            "avg_churn_probability": float(row["avg_churn_probability"]),
        }
        for _, row in frame.iterrows()
        if row["value"] is not None
    ]


def money(value):
    return "n/a" if value is None else f"${value:,.2f}"


def compact_money(value):
    """Large totals in millions or thousands, so that they fit a card."""
    if value is None:
        return "n/a"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"${value / size:,.2f}{unit}"
    return money(value)


def share(value):
    return "n/a" if value is None else f"{value:.1%}"


def score(value):
    return "n/a" if value is None else f"{value:.3f}"


def statistics_text(stats):
    """The figures as plain lines: the body of the Cortex prompt and the source of computed insights."""
    s, p = stats["selection"], stats["portfolio"]
    lines = [
        f"Records in selection: {s['records']} (portfolio: {p['records']})",
        f"Acceptance rate: {share(s['acceptance_rate'])} (portfolio: {share(p['acceptance_rate'])})",
        f"Average recommendation score: {score(s['avg_recommendation_score'])}",
        f"Average customer satisfaction: {score(s['avg_satisfaction'])}",
        f"Average churn probability: {score(s['avg_churn_probability'])}",
        f"Total product sales: {money(s['total_sales'])}",
        f"Average accepted sale: {money(stats['avg_sale_accepted'])}",
        f"Average account balance: {money(s['avg_balance'])}",
        f"Average transaction value: {money(s['avg_transaction_value'])}",
        f"Open recommendations with affinity >= 0.75: {stats['open_high_affinity']}",
        f"Customers with churn >= 0.7 and satisfaction < 0.3: {stats['at_risk']}",
        f"Declined recommendations: {stats['declined']}",
    ]
    for title, key in (("product type", "by_product_type"), ("segment", "by_segment"), ("lifecycle stage", "by_stage")):
        parts = [
            f"{row['value']} {share(row['acceptance_rate'])} accepted, churn {score(row['avg_churn_probability'])}"
            for row in stats[key]
        ]
        lines.append(f"By {title}: " + "; ".join(parts))
    return "\n".join(lines)


def cortex_prompt(focus, stats):
    return (
        "You are an analyst for a bank's product recommendation programme. Using only the figures below, "
        f"write a short, specific assessment of: {focus}. Name the figures you rely on, and end with two or "
        "three concrete actions.\n\nFigures:\n" + statistics_text(stats)
    )


def computed_insight(focus, stats):
    """The insight for one focus area, written from the figures (markdown)."""
    if stats["selection"]["records"] == 0:
        return "No records match the filters."
    return _WRITERS[focus](stats)


def _best_and_worst(rows):
    ranked = sorted((row for row in rows if row["records"]), key=lambda row: row["acceptance_rate"])
    return (ranked[-1], ranked[0]) if ranked else (None, None)


def _overall(stats):
    s, p = stats["selection"], stats["portfolio"]
    best, worst = _best_and_worst(stats["by_product_type"])
    text = (
        f"{s['records']:,} recommendations in the selection; **{share(s['acceptance_rate'])}** were accepted "
        f"(portfolio {share(p['acceptance_rate'])}). "
        f"Average recommendation score {score(s['avg_recommendation_score'])}, "
        f"satisfaction {score(s['avg_satisfaction'])}, churn probability {score(s['avg_churn_probability'])}."
    )
    if best:
        text += (
            f" Best acceptance by product type: {best['value']} ({share(best['acceptance_rate'])}); "
            f"weakest: {worst['value']} ({share(worst['acceptance_rate'])})."
        )
    return text


def _optimisation(stats):
    _, worst_segment = _best_and_worst(stats["by_segment"])
    text = (
        f"**{stats['open_high_affinity']:,}** recommendations are still Pending or In Progress for customers whose "
        "product affinity is 0.75 or more: the quickest wins, listed first under *Who to act on*. "
        f"{stats['declined']:,} recommendations were declined; review their terms before offering again."
    )
    if worst_segment:
        text += (
            f" The {worst_segment['value']} segment accepts least ({share(worst_segment['acceptance_rate'])}): "
            "test a different product mix there."
        )
    return text


def _financial(stats):
    s = stats["selection"]
    text = (
        f"Product sales total **{money(s['total_sales'])}**; an accepted recommendation sells "
        f"{money(stats['avg_sale_accepted'])} on average. Average balance {money(s['avg_balance'])}, "
        f"average transaction value {money(s['avg_transaction_value'])}."
    )
    if stats["avg_sale_accepted"] is not None:
        lift = 0.1 * stats["open_high_affinity"] * stats["avg_sale_accepted"]
        text += (
            f" Converting one in ten of the {stats['open_high_affinity']:,} open high-affinity recommendations "
            f"at that average would add about **{money(lift)}** in sales."
        )
    return text


def _strategic(stats):
    stages = sorted(stats["by_stage"], key=lambda row: row["avg_churn_probability"])
    best_type, _ = _best_and_worst(stats["by_product_type"])
    text = (
        f"**{stats['at_risk']:,}** customers combine a churn probability of 0.7 or more with satisfaction under 0.3: "
        "contact them with retention offers before cross-selling."
    )
    if stages:
        riskiest = stages[-1]
        text += (
            f" The {riskiest['value']} lifecycle stage has the highest average churn "
            f"({score(riskiest['avg_churn_probability'])}): design its next touchpoint first."
        )
    if best_type:
        text += f" Lead marketing with {best_type['value']}, the product type customers accept most."
    return text


_WRITERS = {
    "Overall performance": _overall,
    "Optimisation opportunities": _optimisation,
    "Financial impact": _financial,
    "Strategic recommendations": _strategic,
}
