"""The SDK floor: the least a connector for GET /fpr_data can do. A yardstick, not the product.

`make benchmark` times this beside the real connector (connector.py at the repository
root) to show what the connector's own work costs on top of the SDK's. It only pages
`/fpr_data` with requests, upserts every record with the same 29 declared column types,
and checkpoints the next cursor after each page, one step after the other. It has no
retries, no validation, no repair of bad records, no protection against hostile servers
and no secret scrubbing: never deploy it.
"""

import requests
from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op

TABLE = "fpr_records"

# A literal copy of connector.COLUMNS, so that the floor declares the same types without
# depending on the product it measures. Keep the two in step.
COLUMNS = {
    "record_id": "STRING",
    "customer_id": "STRING",
    "customer_name": "STRING",
    "customer_email": "STRING",
    "customer_segment": "STRING",
    "customer_lifecycle_stage": "STRING",
    "customer_lifecycle_stage_transition_date": "NAIVE_DATE",
    "account_balance": "DOUBLE",
    "transaction_history": "STRING",
    "customer_transaction_value": "DOUBLE",
    "customer_transaction_count": "INT",
    "product_id": "STRING",
    "product_name": "STRING",
    "product_type": "STRING",
    "product_terms": "STRING",
    "product_sales_amount": "DOUBLE",
    "product_sales_date": "NAIVE_DATE",
    "product_recommendation": "STRING",
    "product_recommendation_date": "NAIVE_DATE",
    "product_recommendation_status": "STRING",
    "recommendation_score": "DOUBLE",
    "customer_product_usage": "STRING",
    "customer_product_affinity": "DOUBLE",
    "customer_product_affinity_trend": "STRING",
    "customer_product_usage_trend": "STRING",
    "customer_product_interests": "STRING",
    "customer_satisfaction_score": "DOUBLE",
    "customer_churn_probability": "DOUBLE",
    "last_updated_epoch": "LONG",
}


def schema(configuration: dict):
    return [{"table": TABLE, "primary_key": ["record_id"], "columns": COLUMNS}]


def update(configuration: dict, state: dict):
    session = requests.Session()
    session.headers["x-api-key"] = configuration["api_key"]
    url = configuration["base_url"].rstrip("/") + "/fpr_data"
    cursor = state.get("next_cursor")
    while True:
        params = {"page_size": configuration.get("page_size", "100")}
        if cursor:
            params["cursor"] = cursor
        response = session.get(url, params=params, timeout=(10, 60))
        response.raise_for_status()
        page = response.json()
        for record in page["fpr_records"]:
            op.upsert(TABLE, record)
        cursor = page.get("next_cursor") or cursor
        op.checkpoint({"next_cursor": cursor})
        if not page["fpr_records"] or not page.get("has_more"):
            return


connector = Connector(update=update, schema=schema)
