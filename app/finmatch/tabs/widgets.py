"""What several tabs show alike: tables with readable headers, customer data masked unless the viewer may see
it, CSV downloads of a table as shown, and errors in one short line."""

import streamlit as st

from finmatch.privacy import mask_personal, redact

# Readable headers for the record's columns and for what the tables add to them.
LABELS = {
    "rank": "Rank",
    "action_score": "Action score",
    "reason": "Why",
    "record_id": "Record ID",
    "customer_id": "Customer ID",
    "customer_name": "Customer",
    "customer_email": "Email",
    "customer_segment": "Segment",
    "customer_lifecycle_stage": "Lifecycle stage",
    "product_type": "Product held",
    "product_recommendation": "Recommended product",
    "product_recommendation_status": "Status",
    "product_recommendation_date": "Recommended on",
    "recommendation_score": "Recommendation score",
    "customer_product_affinity": "Affinity",
    "customer_churn_probability": "Churn probability",
    "customer_satisfaction_score": "Satisfaction",
    "account_balance": "Balance",
    "product_sales_amount": "Sale amount",
    "product_sales_date": "Sold on",
    "product_id": "Product ID",
    "product_name": "Product name",
    "last_updated_epoch": "Last updated (UTC)",
    "age_days": "Open for (days)",
    "open_for_customer": "Open recommendations",
}


def masked_unless_allowed(frame, access):
    """The frame as the viewer may see it: names, emails and customer ids masked unless allowed."""
    return frame if access.personal else mask_personal(frame)


def shown(frame, access):
    """The frame as the viewer may see it: masked unless allowed, with readable headers."""
    return masked_unless_allowed(frame, access).rename(columns=LABELS)


def table(frame, **options):
    """A table across the tab's width, without the frame's index."""
    st.dataframe(frame, hide_index=True, width="stretch", **options)


def csv_download(label, frame, file_name):
    """A download of the table exactly as shown: masked when it is shown masked."""
    st.download_button(label, frame.to_csv(index=False), file_name=file_name, mime="text/csv")


def short_error(error):
    """The first line of an error, short, with anything that looks like customer data removed."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = redact(text)
    return text if len(text) <= 160 else text[:157] + "…"
