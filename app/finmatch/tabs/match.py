"""Match: for a customer from the top of Who to act on (or any id, for viewers allowed to see customer data),
the products to offer next, each with its estimate, interval and the counts behind it, and whether the estimates
beat the products' base rates on records they were not learned from."""

import pandas as pd
import streamlit as st

from finmatch.analysis.holdout import holdout_from
from finmatch.analysis.match import rank_products
from finmatch.data.cache import ask
from finmatch.data.cells import cells_from
from finmatch.formats import share
from finmatch.privacy import mask_id
from finmatch.settings import ACTION_LIST_SIZE, CACHE_TTL_SECONDS, INTERVAL_LEVEL, PRIOR_STRENGTH
from finmatch.tabs.widgets import table

CHOOSE_CUSTOMER = "Choose a customer to see the products to offer them next."
PICKED_KEY = "finmatch_match_picked"


@st.fragment
def draw(page):
    st.caption(
        "Products this customer has neither been offered nor already holds, ranked by how often similar customers "
        "(same segment, lifecycle stage and affinity band) accepted them, blended with each product's overall "
        f"acceptance (counted as {PRIOR_STRENGTH} answered offers), with the {INTERVAL_LEVEL:.0%} likely range of each "
        "estimate: where the true rate lies 9 times out of 10. Answered offers are those accepted or declined. "
        "Learned from every answered offer in the table, whatever the filters."
    )
    customer = choose_customer(page)
    if customer is None:
        return
    profile = ask(page.matcher, "profile", customer)
    if profile is None:
        st.info("No records for that customer.")
        return
    shown_id = customer if page.access.personal else mask_id(customer)
    st.markdown(
        f"**{shown_id}** · {profile['segment']} · {profile['stage']} · {profile['band'] or 'no'} affinity band "
        "(latest record's segment and stage, average affinity)"
    )
    products = ask(page.matcher, "customer_products", customer)
    outcomes = ask(page.matcher, "outcome_cells")
    ranking, held = rank_products(cells_from(outcomes), profile, products)
    if held:
        st.caption(f"Not suggested because the customer already holds them: {', '.join(held)}.")
    if ranking.empty:
        st.info("This customer has been offered, or already holds, every product that has decided recommendations.")
    else:
        table(ranking_table(ranking))
    holdout = holdout_of(outcomes)
    notice = st.success if holdout.has_signal else st.info if holdout.enough else st.warning
    notice(holdout.verdict())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=20)
def holdout_of(outcomes):
    """Match's holdout check of the outcome cells, computed once per answer rather than at every rerun."""
    return holdout_from(outcomes)


def choose_customer(page):
    """The customer Match is about: none until the viewer picks one from the top of Who to act on (Match computes
    nothing before); viewers allowed to see customer data may type any id."""
    actions = ask(page.data, "action_list", page.filters, page.today, ACTION_LIST_SIZE)
    candidates = list(dict.fromkeys(actions["customer_id"]))
    show = (lambda value: value) if page.access.personal else mask_id
    if page.access.personal:
        typed = st.text_input("Customer ID", placeholder="Type an id, or pick from the list below").strip()
        if typed:
            return typed
    if not candidates:
        st.info("No open recommendations match the filters, so there is no customer to pick.")
        return None
    index = picker_index(candidates)
    # Each label starts with the customer's rank: masked ids can look alike, and a picker tells its options apart by
    # their labels (the last of two equal labels would win).
    labels = {f"{rank}. {show(customer)}": customer for rank, customer in enumerate(candidates, start=1)}
    label = st.columns([1, 2])[0].selectbox(
        "Customer (from the top of Who to act on)", list(labels), index=index, placeholder="Choose a customer"
    )
    if label is None:
        st.info(CHOOSE_CUSTOMER)
        return None
    chosen = labels[label]
    if index is None:
        st.session_state[PICKED_KEY] = (tuple(candidates), candidates.index(chosen))
    return chosen


def picker_index(candidates):
    """The Match picker's starting position: none before the viewer's first pick; after it, that pick's position while
    the list stays the same, and the top customer of any new list (as Streamlit restarts a picker whose options
    change). The position is part of the picker's identity, so a later pick is kept as long as the list is."""
    picked = st.session_state.get(PICKED_KEY)
    if picked is None:
        return None
    listed, position = picked
    if listed != tuple(candidates):
        st.session_state[PICKED_KEY] = (tuple(candidates), 0)
        return 0
    return position


def ranking_table(ranking):
    """The products in ranking order, with readable figures."""
    return pd.DataFrame(
        {
            "Product": ranking["product"],
            "Estimated acceptance": ranking["estimate"].map(share),
            f"{INTERVAL_LEVEL:.0%} likely range": [
                f"{share(low)} – {share(high)}" for low, high in zip(ranking["low"], ranking["high"], strict=True)
            ],
            "Similar customers: answered": ranking["similar_decided"].astype(int),
            "Similar customers: said yes": ranking["similar_accepted"].astype(int),
            "Product's overall rate": ranking["base_rate"].map(share),
            "Product: answered offers": ranking["product_decided"].astype(int),
        }
    )
