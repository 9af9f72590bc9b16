"""python -m fpr_local_api: serve the local FPR API on loopback until interrupted."""

import argparse
import signal
import sys

from fpr_local_api.dataset import Dataset
from fpr_local_api.faults import FaultPlan
from fpr_local_api.server import DEFAULT_API_KEY, LocalFprApi


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fpr_local_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default 8765)")
    parser.add_argument("--records", type=int, default=750, help="records before any change (default 750)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic data (default 42)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help=f"key clients must send (default {DEFAULT_API_KEY})")
    parser.add_argument(
        "--end-style",
        choices=["newer", "older"],
        default="newer",
        help="newer: a final empty page with a cursor; older: the last page has next_cursor null",
    )
    parser.add_argument("--insert", type=int, default=0, help="records to insert before serving")
    parser.add_argument("--update", type=int, default=0, help="existing records to update before serving")
    parser.add_argument("--faults", default=None, help='fault rules, e.g. "3=status:503,5+=status:401" (see faults.py)')
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a random fault per request")
    parser.add_argument("--random-faults", default="status:503,drop", help="faults drawn at random, comma-separated")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument("--cursor-max-age", type=float, default=None, help="seconds before a cursor expires (410)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("the local FPR API only binds to loopback addresses")
    dataset = Dataset(size=args.records, seed=args.seed)
    if args.insert or args.update:
        dataset.apply_changes(insert=args.insert, update=args.update)
    faults = None
    if args.faults or args.fault_rate:
        faults = FaultPlan(args.faults, args.fault_rate, args.random_faults.split(","), args.fault_seed)
    api = LocalFprApi(
        dataset,
        api_key=args.api_key,
        end_style=args.end_style,
        host=args.host,
        port=args.port,
        cursor_max_age=args.cursor_max_age,
        faults=faults,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"FPR API listening on {api.base_url} ({dataset.size} records)", flush=True)
    try:
        api.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
