"""FinMatch's settings, in one place.

In Streamlit in Snowflake, edit the values here before uploading the app (there are no environment
variables there). Locally, the environment variables named below override them.
"""

import os
from pathlib import Path

# The repository FinMatch runs from locally (this file is app/finmatch/settings.py): `make sync` writes the
# warehouse under build/ there, and FinMatch keeps its own files in files/.
REPOSITORY = Path(__file__).resolve().parents[2]
FILES = REPOSITORY / "files"

# Cortex models offered for the insights (AI_COMPLETE model names). The first is the default;
# FINMATCH_CORTEX_MODEL puts another one first. Availability differs by region: a model the
# account cannot use produces a short message and the computed insights instead.
CORTEX_MODELS = ("claude-sonnet-4-6", "claude-sonnet-4-5", "claude-haiku-4-5", "openai-gpt-5", "llama4-maverick")
CORTEX_MODEL_ENV = "FINMATCH_CORTEX_MODEL"

# Snowflake users allowed to see customer names, emails and ids, exactly as CURRENT_USER() reports
# them (upper case unless the user was created with a quoted name). Streamlit in Snowflake runs the
# app with its owner's rights, so CURRENT_ROLE and IS_ROLE_IN_SESSION answer for the owner, never the
# viewer: only the user identifies the viewer, and only once the owner role holds READ SESSION
# (docs/finmatch.md gives the grants). Empty: nobody sees customer data.
# FINMATCH_UNMASK_USERS (comma-separated) replaces the list.
UNMASK_USERS = ()
UNMASK_USERS_ENV = "FINMATCH_UNMASK_USERS"

# Locally there is no role: customer data stays masked unless this variable is set to 1.
LOCAL_UNMASK_ENV = "FINMATCH_SHOW_CUSTOMER_DATA"

# No insight names a group, no rate is drawn as reliable or joined into a trend, below this many
# decided recommendations.
MIN_GROUP_RECORDS = 30

# One affinity threshold for every tab: "high" affinity is this or more (the top band of the
# Distributions chart).
HIGH_AFFINITY = 0.75

# A change between two periods is called out only when |z| is at least this (two-sided 95 %).
CHANGE_Z = 1.96

# Intervals around Match and campaign estimates: 90 % (z of the normal's 95th percentile).
INTERVAL_LEVEL = 0.90
INTERVAL_Z = 1.6448536269514722

# Campaign lists: how many customers a list holds unless the viewer asks for more or fewer.
CAMPAIGN_LIST_SIZE = 100

# Who to act on: how many customers it lists unless the viewer asks for more or fewer; Match picks its customers
# from the top of that list, and the insights speak of it.
ACTION_LIST_SIZE = 50

# How long query results are reused before the table is read again.
CACHE_TTL_SECONDS = 600

# Match: how many decided records the product's base rate counts for when it is blended with the
# similar customers' own record (empirical Bayes shrinkage). Larger = trust the base rate longer.
PRIOR_STRENGTH = 10

# A difference between groups is stated only when its test's p-value is below this (two-sided 5 %).
SIGNIFICANCE = 0.05

# Bootstrap resamples behind the interval of a lift (a fixed seed: the same interval on every run).
BOOTSTRAP_RESAMPLES = 2000

# Honest rates: an open recommendation (Pending, In Progress) older than this many days counts as not accepted
# beside the rate over decided recommendations alone.
STALE_OPEN_DAYS = 90

# Campaign rules: a customer who declined the product is offered it again only this many days after the decline
# (the recommendation's date); customers whose churn probability is this or more are left out of cross-sell (they
# belong on the retention list first), unless the viewer turns the rule off.
COOL_OFF_DAYS = 180
HIGH_CHURN = 0.7

# The propensity model learns from at most this many decided recommendations of a product, chosen by MD5 of the
# record id (the same records on both engines), so that fitting stays under a second at any table size.
TRAINING_SAMPLE = 20_000

# Campaign exports: the share of each list kept out of the contact as a random control group, unless chosen
# otherwise; the tables kept beside FPR_RECORDS (locally in the app's own DuckDB file).
CONTROL_SHARE = 0.10
MEMBERS_TABLE = "FINMATCH_CAMPAIGN_MEMBERS"
PSEUDONYM_KEY_TABLE = "FINMATCH_PSEUDONYM_KEY"

# Retention: how many customers the list holds unless the viewer asks for more or fewer.
RETENTION_LIST_SIZE = 200

# Insights history: a table beside FPR_RECORDS in Snowflake; locally a small DuckDB file of the
# app's own (never the connector's warehouse).
HISTORY_TABLE = "FINMATCH_INSIGHTS_HISTORY"
APP_DATABASE_ENV = "FINMATCH_APP_DB"
DEFAULT_APP_DATABASE = FILES / "finmatch_app.db"


def cortex_models():
    """The models to offer, the configured default first."""
    default = os.environ.get(CORTEX_MODEL_ENV) or CORTEX_MODELS[0]
    return (default, *(model for model in CORTEX_MODELS if model != default))


def unmask_users():
    configured = os.environ.get(UNMASK_USERS_ENV)
    if configured is None:
        return UNMASK_USERS
    return tuple(user.strip() for user in configured.split(",") if user.strip())


def local_unmask():
    return os.environ.get(LOCAL_UNMASK_ENV) == "1"


def app_database():
    return Path(os.environ.get(APP_DATABASE_ENV) or DEFAULT_APP_DATABASE)


# Snowflake: how far behind FPR_RECORDS the dynamic tables FinMatch reads may fall (their TARGET_LAG, set by
# `make deploy-app`; FINMATCH_TARGET_LAG overrides it there). Each refresh runs on a warehouse: a shorter lag costs
# more.
TARGET_LAG = "1 hour"
TARGET_LAG_ENV = "FINMATCH_TARGET_LAG"


def target_lag():
    return os.environ.get(TARGET_LAG_ENV) or TARGET_LAG
