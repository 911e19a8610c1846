"""A trial for the operator tests: prints ``accuracy=...`` per step, or misbehaves on request.

python trial_script.py --lr 0.05 [--steps N] [--step-sleep S] [--exit-code N] [--wait-for PATH]

accuracy at step s is ``1 - (lr - 0.05)**2 * 100 - 1/(s + 1)``: larger is better, best near
lr = 0.05, rising with the steps like a training curve. With ``--wait-for`` it waits for
that file to exist before it ends (a barrier the test lifts; exit code 2 after a minute).
"""

import argparse
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--step-sleep", type=float, default=0.0)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--wait-for", type=Path)
    args = parser.parse_args()
    for step in range(1, args.steps + 1):
        accuracy = 1.0 - (args.lr - 0.05) ** 2 * 100 - 1.0 / (step + 1)
        print(f"step={step} accuracy={accuracy}", flush=True)
        time.sleep(args.step_sleep)
    if args.wait_for is not None:
        deadline = time.monotonic() + 60
        while not args.wait_for.exists():
            if time.monotonic() > deadline:
                sys.exit(2)
            time.sleep(0.02)
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
