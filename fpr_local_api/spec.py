"""The OpenAPI description served at GET /fpr_api_spec."""

NUMBER_FIELDS = [
    "account_balance",
    "customer_transaction_value",
    "product_sales_amount",
    "recommendation_score",
    "customer_product_affinity",
    "customer_satisfaction_score",
    "customer_churn_probability",
]
INTEGER_FIELDS = ["customer_transaction_count", "last_updated_epoch"]
DATE_FIELDS = [
    "customer_lifecycle_stage_transition_date",
    "product_sales_date",
    "product_recommendation_date",
]
STRING_FIELDS = [
    "record_id",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_segment",
    "customer_lifecycle_stage",
    "transaction_history",
    "product_id",
    "product_name",
    "product_type",
    "product_terms",
    "product_recommendation",
    "product_recommendation_status",
    "customer_product_usage",
    "customer_product_affinity_trend",
    "customer_product_usage_trend",
    "customer_product_interests",
]


def _record_schema():
    properties = {name: {"type": "string"} for name in STRING_FIELDS}
    properties.update({name: {"type": "number", "format": "double"} for name in NUMBER_FIELDS})
    properties.update({name: {"type": "integer", "format": "int64"} for name in INTEGER_FIELDS})
    properties.update({name: {"type": "string", "format": "date"} for name in DATE_FIELDS})
    return {"type": "object", "required": sorted(properties), "properties": dict(sorted(properties.items()))}


def openapi_spec():
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "FPR API (local)",
            "version": "1.0.0",
            "description": "Financial Product Recommendation records, paged by an opaque cursor.",
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "FprRecord": _record_schema(),
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/fpr_data": {
                "get": {
                    "summary": "A page of FPR records, oldest change first",
                    "parameters": [
                        {
                            "name": "page_size",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 100},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "The next_cursor of the previous response, unchanged.",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of records",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "fpr_records": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/FprRecord"},
                                            },
                                            "next_cursor": {"type": "string", "nullable": True},
                                            "has_more": {"type": "boolean"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": {"description": "Bad page_size or cursor", "content": _error_content()},
                        "401": {"description": "Missing or wrong x-api-key", "content": _error_content()},
                        "410": {"description": "Cursor expired", "content": _error_content()},
                    },
                }
            }
        },
    }


def _error_content():
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
