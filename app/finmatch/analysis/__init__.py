"""What FinMatch computes from the data layer's answers, with no Streamlit: Match (match.py) and its holdout check
(holdout.py), campaign lists (campaign.py), the insights (insights.py) and the cards' trends (trends.py)."""
