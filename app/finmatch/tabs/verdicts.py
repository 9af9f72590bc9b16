"""The words Campaigns uses for a product's rates and for its propensity model's check, for a marketer to read."""

import streamlit as st

from finmatch.data.features import FEATURE_WORDS
from finmatch.formats import share
from finmatch.settings import INTERVAL_LEVEL, MIN_GROUP_RECORDS, STALE_OPEN_DAYS, TRAINING_SAMPLE

RANGE = f"{INTERVAL_LEVEL:.0%} likely range"


def rates_line(product, rates):
    """Acceptance when answered and of every offer, each with its likely range, and the average sale with its own."""
    answered, offered = rates.answered, rates.offered
    sale = (
        f"average sale after a yes **${rates.average_sale:,.0f}** over {rates.sales:,} sales ({RANGE} "
        f"${max(rates.sale_low, 0):,.0f}–${rates.sale_high:,.0f})"
        if rates.sale_low is not None
        else f"{rates.sales:,} sales after a yes: too few to give the average sale a range"
    )
    return (
        f"**{product}**: said yes to **{share(answered.observed)}** of answered offers ({answered.accepted:,} of "
        f"{answered.out_of:,}; best estimate {share(answered.estimate)}, {RANGE} {share(answered.low)}–"
        f"{share(answered.high)}) · **{share(offered.observed)}** of all offers, counting those still open after "
        f"{STALE_OPEN_DAYS} days as a no ({offered.accepted:,} of {offered.out_of:,}; best estimate "
        f"{share(offered.estimate)}, {share(offered.low)}–{share(offered.high)}) · {sale}.\n\n"
        "*Likely range: where the true rate lies 9 times out of 10, given how many offers it rests on; each rate is "
        "pulled toward the average of all products as far as their differences warrant. Value per offer = chance "
        f"of yes × share of offers answered ({share(rates.answered_share)}) × average sale.*"
    )


def model_verdict(product, model, ranks):
    """Whether the propensity model beats the product's base rate, in plain words, and how that was checked."""
    if model is None:
        st.info(
            f"No model for {product}: its decided offers hold only one outcome, so there is nothing to learn. Every "
            "customer's chance of yes is the product's rate; the list goes to the largest balances, the most at stake."
        )
        return
    check = model.check
    figures = _figures(check)
    if ranks:
        st.success(
            f"The model beats {product}'s base rate on {check.held_out:,} answered offers it did not learn from. "
            f"{figures} The list follows the model: highest chance of yes first."
        )
    elif not check.enough:
        st.warning(
            f"Too few answered offers were held back to judge the model ({check.held_out:,}, {check.accepted:,} of "
            f"them a yes; at least {MIN_GROUP_RECORDS} with both answers are needed). {figures} Its scores are not "
            "used: every customer's chance of yes is the product's rate, and the list goes to the largest balances, "
            "the most at stake."
        )
    else:
        st.info(
            f"The model does not beat {product}'s base rate on {check.held_out:,} answered offers it did not learn "
            f"from. {figures} So its scores are not used: every customer's chance of yes is the product's rate, and "
            "the list goes to the largest balances, the most at stake."
        )
    st.caption(_method(model))


def _figures(check):
    if check.auc is None:
        return "Both answers are needed among them to measure it."
    return (
        f"Its top tenth said yes {check.lift:.2f} times as often as average ({RANGE} {check.lift_low:.2f}–"
        f"{check.lift_high:.2f}; 1 = no better than picking at random), and it put a yes above a no "
        f"{check.auc:.0%} of the time (AUC {check.auc:.2f}, {check.auc_low:.2f}–{check.auc_high:.2f}; 0.50 = chance)."
    )


def _method(model):
    features = ", ".join(FEATURE_WORDS.values())
    return (
        f"How it was checked: a logistic regression on each customer's {features}, learned from "
        f"{model.learned_from:,} answered offers (a fixed sample of at most {TRAINING_SAMPLE:,}, chosen by record id) "
        f"and checked on {model.check.held_out:,} others held back. It beats the base rate only when both ranges "
        "clear chance: the lift's above 1 (2,000 bootstrap resamples) and the AUC's above 0.50 (DeLong's method). "
        f"Model version {model.version}."
    )
