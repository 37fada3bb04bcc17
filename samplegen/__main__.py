"""python -m samplegen --seed 7 --scale 1 --out data/sample"""
from __future__ import annotations

import argparse

from . import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m samplegen", description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies people and orders (0.1 for tests)")
    parser.add_argument("--out", default="data/sample", help="writes <out>/landing/... and <out>/truth/...")
    args = parser.parse_args(argv)
    generate(args.seed, args.scale, args.out)


if __name__ == "__main__":
    main()
