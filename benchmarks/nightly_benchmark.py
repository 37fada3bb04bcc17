"""Nightly job at business scale: per-phase wall time and peak memory, against a plain-DuckDB floor.

Usage: .venv/bin/python benchmarks/nightly_benchmark.py [--scales sample,100k,1m] [--data DIR]

Each scale's exports are generated once by samplegen into --data (default /tmp/crosswalk-bench)
and reused. The nightly job and the floor (benchmarks/floor.py) each run in a child process, so
peak memory is that process's maximum RSS (the in-process executor keeps the job in one process).
Run by hand; the figures belong in benchmarks/RESULTS.md, never in tests.
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# samplegen scale 1 is ~1,500 orders and ~400 customers
SCALES = {"sample": 1.0, "100k": 100_000 / 1_500, "1m": 1_000_000 / 1_500}


def measured(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and output of a child process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(p.stdout + p.stderr[-2000:] if p.returncode else p.stdout)\n"
        "print(f'@@ {time.monotonic() - t:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, cwd=PROJECT)
    lines = done.stdout.strip().splitlines()
    _, wall, rss = lines[-1].split()
    return float(wall), float(rss), "\n".join(lines[:-1])


def ensure_data(name: str, data: Path) -> Path:
    out = data / name
    if not (out / "landing").is_dir():
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "samplegen", "--seed", "7", "--scale", str(SCALES[name]),
                        "--out", str(out)], check=True, cwd=PROJECT)
        print(f"[{name}] generated in {time.monotonic() - started:.0f} s", flush=True)
    return out / "landing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="sample,100k")
    parser.add_argument("--data", default="/tmp/crosswalk-bench")
    args = parser.parse_args()
    for name in args.scales.split(","):
        landing = ensure_data(name, Path(args.data))
        warehouse = Path(args.data) / f"{name}-warehouse"
        wall, rss, output = measured([sys.executable, "benchmarks/phase_times.py", "--landing", str(landing),
                                      "--warehouse", str(warehouse)])
        floor_wall, floor_rss, floor_output = measured([sys.executable, "benchmarks/floor.py", str(landing)])
        print(f"[{name}] nightly job: {wall:.1f} s wall, peak RSS {rss:.0f} MiB\n{output}")
        print(f"[{name}] floor: {floor_wall:.1f} s wall, peak RSS {floor_rss:.0f} MiB ({floor_output.strip()})")
        print(f"[{name}] pipeline / floor: {wall / floor_wall:.1f}x", flush=True)


if __name__ == "__main__":
    main()
