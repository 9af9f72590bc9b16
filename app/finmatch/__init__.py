"""FinMatch, the analytics app over fpr_records; app/streamlit_app.py draws its page.

Each layer imports only those below it:

    tabs/      one module per tab of the page, each reading as what its tab shows (the only Streamlit UI code)
    analysis/  what the tabs compute: Match and its holdout check, campaign lists, insights, the cards' trends
    data/      the SQL over fpr_records on either engine, and the answers reused across reruns
    settings.py, stats.py, formats.py, privacy.py: the settings, statistics, number formats and masking every
               layer may use
"""
