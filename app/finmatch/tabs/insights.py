"""Insights: the four sections written for the current selection, by Snowflake Cortex or, locally and when Cortex
fails, by FinMatch from the same figures; step by step in a progress box; every generation kept and comparable."""

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from finmatch.analysis.insights import COMPUTED_LABEL, FOCUS_AREAS, computed_insight, cortex_prompt, gather_statistics
from finmatch.data.cache import Cached
from finmatch.data.history import Entry, history_for, history_markdown
from finmatch.settings import cortex_models
from finmatch.tabs.widgets import short_error, table

HISTORY_KEY = "finmatch_history_entries"


@st.fragment
def draw(page):
    data = page.data
    history = history_for(data.backend)
    if data.backend.has_cortex:
        model = st.selectbox("Cortex model", cortex_models(), accept_new_options=True)
        st.caption("Written by Snowflake Cortex (AI_COMPLETE) from the figures computed over the table.")
    else:
        model = None
        st.caption(COMPUTED_LABEL + " Cortex writes them when the app runs in Snowflake.")
    if st.button("Generate insights", type="primary"):
        entry, problem = generate(page, model)
        st.session_state["finmatch_latest_insights"] = entry
        if problem:
            st.warning(problem)
        save_history(history, entry)
        st.session_state.pop(HISTORY_KEY, None)
    latest = st.session_state.get("finmatch_latest_insights")
    if latest is None:
        st.info("Press *Generate insights* to write the four sections for the current selection.")
    else:
        show_entry(latest)
    history_section(history, latest)


def generate(page, model):
    """The four sections, step by step in a status box; Cortex failures fall back to computed text.

    Returns:
        (Entry, message or None): the message says, in one line, why Cortex was not used.
    """
    problem = None
    with st.status("Generating insights…", expanded=True) as status:
        status.write("Computing the figures over the table…")
        stats = gather_statistics(Cached(page.data), page.filters, page.today)
        sections = {}
        for focus in FOCUS_AREAS:
            if model and problem is None:
                status.write(f"Asking Cortex ({model}) for {focus.lower()}…")
                try:
                    sections[focus] = page.data.complete(model, cortex_prompt(focus, stats))
                    continue
                except Exception as error:  # any Cortex failure: say so briefly, keep the page working
                    problem = (
                        f"Cortex could not write the insights ({short_error(error)}). Showing the insights FinMatch "
                        "computed from the same figures instead."
                    )
                    status.write("Cortex failed: using the computed insights.")
            status.write(f"Writing {focus.lower()} from the figures…")
            sections[focus] = computed_insight(focus, stats)
        status.update(label="Insights ready", state="complete", expanded=False)
    used_cortex = model is not None and problem is None
    source = "Snowflake Cortex" if used_cortex else "computed by FinMatch"
    generated = datetime.now(timezone.utc).replace(tzinfo=None)
    return Entry(generated, source, model if used_cortex else None, page.filters.describe(), sections), problem


def save_history(history, entry):
    try:
        history.save(entry)
    except Exception as error:  # the insights are shown anyway; only keeping them failed
        st.warning(f"These insights could not be kept in the history ({short_error(error)}).")


def show_entry(entry):
    st.caption(f"Generated {entry.title()}.")
    for focus, text in entry.sections.items():
        st.markdown(f"#### {focus}\n{as_plain_markdown(text)}")


def as_plain_markdown(text):
    """Dollar amounts as text: Streamlit's markdown reads a pair of $ signs as a formula."""
    return text.replace("$", "\\$")


def history_section(history, latest):
    """The kept insights: listed, comparable side by side with the latest, and downloadable as Markdown."""
    entries = kept_entries(history)
    if not entries:
        return
    with st.expander(f"History ({len(entries)}), kept in {history.where}"):
        table(
            pd.DataFrame(
                {
                    "Generated (UTC)": [entry.generated_at.strftime("%Y-%m-%d %H:%M:%S") for entry in entries],
                    "Source": [entry.source for entry in entries],
                    "Model": [entry.model or "" for entry in entries],
                    "Filters": [entry.filters for entry in entries],
                }
            )
        )
        earlier = entries[1:] if latest is not None else entries
        if earlier:
            compare(latest, earlier)
        st.download_button(
            "Download history", history_markdown(entries), file_name="finmatch_insights.md", mime="text/markdown"
        )


def kept_entries(history):
    """The kept insights, read once per session and again after each generation; None when they cannot be read."""
    try:
        if HISTORY_KEY not in st.session_state:
            st.session_state[HISTORY_KEY] = history.entries()
        return st.session_state[HISTORY_KEY]
    except Exception as error:
        st.warning(f"The insights history could not be read ({short_error(error)}).")
        return None


def compare(latest, earlier):
    """The latest insights beside an earlier generation the viewer chooses."""
    chosen = st.selectbox("Compare with", range(len(earlier)), format_func=lambda i: earlier[i].title())
    left, right = st.columns(2)
    with left:
        st.markdown("**Current**")
        if latest is not None:
            show_entry(latest)
    with right:
        st.markdown("**Earlier**")
        show_entry(earlier[chosen])
