"""Entry point: `python bench.py --methods all --dataset ucf --root PATH` (see --help)."""

import sys

from avgzsl_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
