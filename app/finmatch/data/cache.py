"""Answers reused across reruns: a page run asks again what the previous run asked, and the table has not changed.

Streamlit reruns the whole script at every interaction, so each question of an FprData, Matcher or
Campaigns is answered once per source, question and arguments (filters included) and then reused for
CACHE_TTL_SECONDS, or until the warehouse changes (the backend's cache_key) or Reload data is pressed.
"""

import streamlit as st

from finmatch.data.backends import forget_derived_data
from finmatch.settings import CACHE_TTL_SECONDS


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=500)
def _cached(_source, source_key, question, *args):
    return getattr(_source, question)(*args)


def ask(source, question, *args):
    """One answer of an FprData or Matcher, reused per source, question and arguments (filters included)."""
    return _cached(source, f"{type(source).__name__}:{source.backend.cache_key}", question, *args)


class Cached:
    """An FprData whose questions go through the cache, for code written against FprData."""

    def __init__(self, data):
        self._data = data

    def __getattr__(self, question):
        return lambda *args: ask(self._data, question, *args)


def forget_everything():
    """Every answer, what was read about the table and every table derived from it (Reload data)."""
    _cached.clear()
    forget_derived_data()
