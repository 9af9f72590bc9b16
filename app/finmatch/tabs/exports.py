"""What the campaign and retention lists share: the ids a viewer may see, and the export of a list as CSV and as
members of a campaign kept for the CRM (reverse ETL)."""

import streamlit as st

from finmatch.analysis.export import csv_bytes, members
from finmatch.data.members import members_for
from finmatch.privacy import pseudonym
from finmatch.tabs.widgets import short_error

KEY = "finmatch_pseudonym_key"


def pseudonym_key(page):
    """The app's key for pseudonyms (data/members.py), read once per session; never shown."""
    if KEY not in st.session_state:
        st.session_state[KEY] = members_for(page.data.backend).key()
    return st.session_state[KEY]


def listed_ids(page, ranked):
    """Customer ids as the viewer may see them: the real ids, or stable pseudonyms (the same in every list and in the
    export) when customer data is masked for them."""
    if page.access.personal:
        return list(ranked["customer_id"])
    key = pseudonym_key(page)
    return [pseudonym(customer, key) for customer in ranked["customer_id"]]


def export_section(page, ranked, header, control_share, noun):
    """The list as members: a CSV download and a button that keeps them in the members table."""
    key = None if page.access.personal else pseudonym_key(page)
    rows = members(ranked, header, control_share, key)
    held_out = int(rows["control_group"].sum())
    st.caption(
        f"Campaign **{header['campaign_id']}** · {len(rows):,} customers, {held_out:,} of them "
        f"({control_share:.0%}) a random control group not to contact, so that the lift can be measured once "
        "outcomes arrive · model "
        f"{header['model_version'] or 'none'}"
        + (
            ""
            if page.access.personal
            else " · customer ids are pseudonyms: the same customer has the same one in every list"
        )
    )
    left, right = st.columns(2)
    with left:
        st.download_button(
            f"Download the {noun} list as CSV",
            csv_bytes(rows),
            file_name=f"{header['campaign_id'].lower()}.csv",
            mime="text/csv",
        )
    store = members_for(page.data.backend)
    if right.button(f"Save the {noun} members for the CRM"):
        try:
            store.save(rows)
            st.success(f"Saved {len(rows):,} members of {header['campaign_id']} in {store.where}.")
        except Exception as error:  # the list is still shown and downloadable
            st.warning(f"The members could not be saved ({short_error(error)}).")
