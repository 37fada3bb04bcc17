"""Synthetic Harbour & Hearth exports plus their ground truth (see docs/sample-business.md)."""
from __future__ import annotations

from pathlib import Path

from .exports import write_exports
from .simulate import simulate
from .truth import write_truth


def generate(seed: int, scale: float, out: Path | str) -> None:
    out = Path(out)
    business = simulate(seed, scale)
    exports = write_exports(business, out)
    write_truth(business, exports, out)
