"""Nightly job at business scale: per-phase wall time and peak memory, against a plain-DuckDB floor.

Usage: .venv/bin/python benchmarks/nightly_benchmark.py [--scales sample,100k,1m] [--data DIR] [--incremental]
       [--repeat N]

Each scale's exports are generated once by samplegen into --data (default /tmp/crosswalk-bench)
and reused. The nightly job and the floor (benchmarks/floor.py) each run in a child process, so
peak memory is that process's maximum RSS (the in-process executor keeps the job in one process).
With --incremental, each CSV export is split: its first 99% of records land for a full run, then
the last 1% land and the next night is timed: beside it as a new file (<name>_delta.csv), or,
for an export that is a full snapshot, as the whole export written again. Then a night on the
same files, with nothing new, is timed: the part of any night that does not shrink with the data.
With --repeat N each measurement is made N times and the medians are printed last: on this
virtual machine one run's wall time can stray by 10%. CPU time (user + system, the process tree)
is printed beside each wall time.
Run by hand; the figures belong in benchmarks/RESULTS.md, never in tests.
"""

import argparse
import csv
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# samplegen scale 1 is ~1,500 orders and ~400 customers
SCALES = {"sample": 1.0, "100k": 100_000 / 1_500, "1m": 1_000_000 / 1_500}


def measured(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB and output of a child process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(p.stdout + p.stderr[-2000:] if p.returncode else p.stdout)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(f'@@ {time.monotonic() - t:.3f} {u.ru_utime + u.ru_stime:.3f} {u.ru_maxrss / 1024:.1f}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, cwd=PROJECT)
    lines = done.stdout.strip().splitlines()
    _, wall, cpu, rss = lines[-1].split()
    return float(wall), float(cpu), float(rss), "\n".join(lines[:-1])


def warm(landing: Path) -> None:
    """Read every landing file once, so that the pipeline and the floor both start with the files
    in the page cache, as a night does after the exports were just written (this machine evicts
    pages left unread for a while, and the first reader would pay for the disk)."""
    for path in landing.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                while fh.read(1 << 24):
                    pass


def ensure_data(name: str, data: Path) -> Path:
    out = data / name
    if not (out / "landing").is_dir():
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "samplegen", "--seed", "7", "--scale", str(SCALES[name]),
                        "--out", str(out)], check=True, cwd=PROJECT)
        print(f"[{name}] generated in {time.monotonic() - started:.0f} s", flush=True)
    return out / "landing"


def split_landing(landing: Path, out: Path, share: float = 0.01) -> tuple[Path, Path]:
    """A landing folder with each CSV export's first (1 - share) of records, and a folder of what
    the next night brings: for an export of recent records (a rolling profile) the remaining
    records as a new file <name>_delta.csv; for a full snapshot (HubSpot contacts, a Mailchimp
    audience) the whole export again, under the same name, as the tool would write it."""
    from connectors.files import csv_all_rows, csv_format, discover_tables
    from connectors.profiles import load_profiles

    base, delta = out / "base", out / "delta"
    if base.is_dir() and delta.is_dir():
        return base, delta
    shutil.rmtree(out, ignore_errors=True)
    profiles = load_profiles()
    for path in sorted(landing.rglob("*")):
        if not path.is_file():
            continue
        target = base / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = csv_all_rows(path, fmt := csv_format(path)) if path.suffix == ".csv" else []
        if len(rows) < 100:
            shutil.copy2(path, target)
            continue
        cut = len(rows) - int((len(rows) - 1) * share)
        [table] = discover_tables(path, profiles)
        if table.profile.export == "snapshot":
            extra, later = delta / path.relative_to(landing), rows
        else:
            extra, later = delta / path.relative_to(landing).with_name(f"{path.stem}_delta.csv"), [rows[0], *rows[cut:]]
        extra.parent.mkdir(parents=True, exist_ok=True)
        for destination, records in ((target, rows[:cut]), (extra, later)):
            with destination.open("w", newline="", encoding=fmt.encoding) as fh:
                csv.writer(fh, delimiter=fmt.delimiter).writerows(records)
    return base, delta


def incremental(name: str, landing: Path, data: Path) -> dict[str, float]:
    """A full run on 99% of the records, the night when the last 1% lands, and a night with nothing
    new; returns their wall times and the nights' shares of the full run."""
    base, delta = split_landing(landing, data / f"{name}-incremental")
    warehouse = data / f"{name}-incremental-warehouse"
    night_landing = data / f"{name}-incremental" / "landing"
    for folder in (warehouse, night_landing):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(base, night_landing)
    warm(night_landing)
    nightly = [sys.executable, "benchmarks/phase_times.py", "--landing", str(night_landing), "--warehouse", str(warehouse)]
    wall, cpu, rss, output = measured(nightly)
    print(f"[{name}] full run on 99%: {wall:.2f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MiB\n{output}", flush=True)
    new_rows = 0
    for path in delta.rglob("*.csv"):
        target = night_landing / path.relative_to(delta)
        lines = sum(1 for _ in path.open(encoding="utf-8", errors="replace"))
        new_rows += lines - (sum(1 for _ in target.open(encoding="utf-8", errors="replace")) if target.exists() else 1)
        shutil.copy2(path, target)
    warm(night_landing)
    night, night_cpu, night_rss, night_output = measured(nightly)
    print(f"[{name}] incremental night (+{new_rows:,} records; {len(list(delta.rglob('*_delta.csv')))} new files, "
          f"{len([p for p in delta.rglob('*.csv') if not p.stem.endswith('_delta')])} snapshots exported again): "
          f"{night:.2f} s wall, {night_cpu:.1f} s CPU, peak RSS {night_rss:.0f} MiB, {night / wall:.1%} of the full run"
          f"\n{night_output}", flush=True)
    # the same files again: what a night costs when nothing changed, the floor of any night
    quiet, quiet_cpu, quiet_rss, quiet_output = measured(nightly)
    print(f"[{name}] a night with nothing new: {quiet:.1f} s wall, {quiet_cpu:.1f} s CPU, peak RSS {quiet_rss:.0f} MiB, "
          f"{quiet / wall:.1%} of the full run\n{quiet_output}", flush=True)
    return {"full run": wall, "1% night": night, "nothing new": quiet,
            "1% night share": night / wall, "nothing new share": quiet / wall}


def full(name: str, landing: Path, data: Path) -> dict[str, float]:
    """The nightly job on every file, from an empty warehouse, and the floor on the same files."""
    warehouse = data / f"{name}-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)  # a full night: nothing reused from an earlier run
    warm(landing)
    wall, cpu, rss, output = measured([sys.executable, "benchmarks/phase_times.py", "--landing", str(landing),
                                       "--warehouse", str(warehouse)])
    warm(landing)
    floor_wall, floor_cpu, floor_rss, floor_output = measured([sys.executable, "benchmarks/floor.py", str(landing)])
    print(f"[{name}] nightly job: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MiB\n{output}")
    print(f"[{name}] floor: {floor_wall:.1f} s wall, {floor_cpu:.1f} s CPU, peak RSS {floor_rss:.0f} MiB "
          f"({floor_output.strip()})")
    identity = re.search(r"^\s+identity\s+([0-9.]+) s", output, re.MULTILINE)
    without = wall - float(identity.group(1)) if identity else wall
    print(f"[{name}] pipeline / floor: {wall / floor_wall:.1f}x; without the identity phase "
          f"{without:.1f} s, {without / floor_wall:.1f}x", flush=True)
    return {"nightly job": wall, "floor": floor_wall, "without identity": without,
            "pipeline / floor": wall / floor_wall, "without identity / floor": without / floor_wall}


def formatted(figure: str, value: float) -> str:
    if figure.endswith("share"):
        return f"{value:.1%}"  # against a 20% target, a whole percent hides which side a night is on
    return f"{value:.1f}x" if "/" in figure else f"{value:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="sample,100k")
    parser.add_argument("--data", default="/tmp/crosswalk-bench")
    parser.add_argument("--incremental", action="store_true", help="time a night with 1%% new rows instead")
    parser.add_argument("--repeat", type=int, default=1, help="measure each scale this many times; print medians")
    args = parser.parse_args()
    for name in args.scales.split(","):
        landing = ensure_data(name, Path(args.data))
        measure = incremental if args.incremental else full
        rounds = [measure(name, landing, Path(args.data)) for _ in range(args.repeat)]
        if args.repeat > 1:
            for figure in rounds[0]:
                values = [r[figure] for r in rounds]
                print(f"[{name}] median {figure}: {formatted(figure, statistics.median(values))} "
                      f"(of {', '.join(formatted(figure, v) for v in values)})", flush=True)


if __name__ == "__main__":
    main()
