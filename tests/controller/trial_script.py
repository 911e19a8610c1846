"""A trial for the controller tests: prints ``loss=(x - 0.3)**2``, or misbehaves on request.

python trial_script.py --x 0.5 [--exit-code N] [--silent] [--sleep S]
"""

import argparse
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--silent", action="store_true", help="print no metric")
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()

    print(f"starting with x={args.x}", flush=True)
    time.sleep(args.sleep)
    if not args.silent:
        print(f"step=1 loss={(args.x - 0.3) ** 2 + 1.0}", flush=True)
        print(f"step=2 loss={(args.x - 0.3) ** 2}", flush=True)
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
