"""A trial for the controller tests: prints ``loss=(x - 0.3)**2``, or misbehaves on request.

python trial_script.py --x 0.5 [--exit-code N] [--silent] [--sleep S]
python trial_script.py --x 0.5 --steps N [--step-sleep S] [--pid-file PATH]

With ``--steps`` it prints ``loss=(x - 0.3)**2 + 1/step`` at steps 1..N, sleeping
``--step-sleep`` seconds after each, like a training loop.
"""

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--silent", action="store_true", help="print no metric")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=0, help="print a loss per step")
    parser.add_argument("--step-sleep", type=float, default=0.0)
    parser.add_argument("--pid-file", type=Path, help="write this process's id here")
    args = parser.parse_args()

    if args.pid_file is not None:
        args.pid_file.write_text(str(os.getpid()))
    print(f"starting with x={args.x}", flush=True)
    time.sleep(args.sleep)
    if args.steps:
        for step in range(1, args.steps + 1):
            print(f"step={step} loss={(args.x - 0.3) ** 2 + 1.0 / step}", flush=True)
            time.sleep(args.step_sleep)
    elif not args.silent:
        print(f"step=1 loss={(args.x - 0.3) ** 2 + 1.0}", flush=True)
        print(f"step=2 loss={(args.x - 0.3) ** 2}", flush=True)
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
