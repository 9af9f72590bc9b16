"""Runs one SQL statement against the warehouse of `make sync` (read-only) and prints the result.

python tools/query.py ["SELECT ... FROM tester.fpr_records ..."]
"""

import sys

import duckdb
from stage import LOCAL_PROJECT, ROOT

WAREHOUSE = LOCAL_PROJECT / "files" / "warehouse.db"
DEFAULT_SQL = """
SELECT product_recommendation_status AS status,
       count(*) AS records,
       round(avg(recommendation_score), 4) AS avg_score,
       round(sum(product_sales_amount), 2) AS total_sales,
       max(last_updated_epoch) AS latest_epoch
FROM tester.fpr_records
GROUP BY ALL
ORDER BY records DESC
"""


def main():
    if not WAREHOUSE.exists():
        sys.exit(f"no {WAREHOUSE.relative_to(ROOT)} yet: run `make sync` first")
    sql = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SQL
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        db.sql(sql).show(max_width=200)


if __name__ == "__main__":
    main()
