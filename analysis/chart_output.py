"""How a chart leaves matplotlib: a small palette PNG for READMEs, an inline SVG for the HTML report.

The report embeds every chart, so bytes matter: a 45-row chart at 110 dpi was about 270 kB as a
truecolor PNG. Here a PNG is drawn at a modest DPI and quantized to a 256-colour palette (charts have
few colours), and the SVG keeps its text as text (`svg.fonttype = 'none'`), which is both crisper and
smaller than a PNG data URI. Each SVG's ids carry a salt of its file name, so several inline SVGs on
one page never share a clip-path or marker id.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from runformat import atomic  # noqa: E402

DPI = 80  # about 800 px wide: what READMEs and pull requests show, and light
COLOURS = 64  # a palette this size keeps anti-aliased text clean; measured 2026-11-23 on a 45-cell run:
# throughput.png 128 kB truecolor at 90 dpi -> 25 kB here
_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)  # XML declaration, DOCTYPE, comments


def png_bytes(fig: Figure) -> bytes:
    """The figure as an optimized palette PNG."""
    raw = io.BytesIO()
    fig.savefig(raw, dpi=DPI, format="png")
    raw.seek(0)
    with Image.open(raw) as img:
        small = img.convert("RGB").quantize(colors=COLOURS, method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def svg_text(fig: Figure, salt: str) -> str:
    """The figure as an inline <svg> element: text kept as text, ids unique to this chart."""
    out = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return _SVG_PROLOGUE.sub("", out.getvalue(), count=1).strip()


def finish(fig: Figure, path: Path, svg: bool = True) -> str | None:
    """Write the figure's PNG atomically at `path` and free it; return its inline SVG if asked and lighter
    than the PNG as a base64 data URI (4/3 of its bytes), else None (the page then embeds the PNG)."""
    try:
        data = png_bytes(fig)
        atomic.write_with(Path(path), lambda f: f.write(data), binary=True)
        if not svg:
            return None
        text = svg_text(fig, Path(path).stem)
        return text if len(text.encode()) <= len(data) * 4 / 3 else None
    finally:
        plt.close(fig)


def empty_figure(title: str, reason: str) -> Figure:
    """A one-line chart that says why there is nothing to plot (a failed or partial run)."""
    fig, ax = plt.subplots(figsize=(8, 1.6))
    ax.set_title(title, fontsize=10, loc="left")
    ax.text(0.5, 0.45, reason, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="#555555")
    ax.set_axis_off()
    fig.tight_layout()
    return fig
