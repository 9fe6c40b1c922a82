"""The model cards' figures (matplotlib PNGs): confusion matrices, reliability diagrams, robustness curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion_matrix_png(confusion, labels: list[str], out: Path, title: str) -> Path:
    """Row-normalised confusion matrix (recall per true class) with counts, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(labels), 0.8 + 0.65 * len(labels)), dpi=110)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{rates[i, j]:.2f}\n({int(counts[i, j])})", ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.55 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def reliability_png(curves: dict[str, list[dict]], out: Path, title: str) -> Path:
    """Reliability diagram: accuracy against confidence per bin, one line per named curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect calibration")
    for name, bins in curves.items():
        pts = [(b["confidence"], b["accuracy"]) for b in bins if b["count"]]
        ax.plot(*zip(*pts), marker="o", label=name)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def robustness_png(shipped: dict, baseline: dict, out: Path) -> Path:
    """Accuracy against signal-to-noise ratio, one line per noise ("white@10dB" ... keys of `shipped`, each
    {"pooled": {"accuracy"}}), the clip as recorded at the right; the channels (reverberation, codecs) as points
    beside it. `baseline` (same shape, maybe fewer conditions) is drawn dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curves, channels) = plt.subplots(1, 2, figsize=(8.4, 3.8), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    noises = sorted({key.partition("@")[0] for key in shipped if "@" in key})
    colours = dict(zip(noises, ("#1e88e5", "#e53935", "#43a047", "#8e24aa")))
    for table, style, name in ((shipped, "-", "shipped"), (baseline, "--", "v0.9.0's recipe")):
        clean = table.get("clean", {}).get("pooled", {}).get("accuracy")
        for noise in noises:
            points = sorted((float(key.partition("@")[2].removesuffix("dB")), value["pooled"]["accuracy"])
                            for key, value in table.items() if key.startswith(noise + "@"))
            if clean is not None:
                points.append((30.0, clean))
            if points:
                curves.plot(*zip(*points), style, marker="o", color=colours[noise], label=f"{noise} ({name})")
        others = [key for key in table if "@" not in key and key != "clean"]
        offset = 0.2 if style == "--" else -0.2
        channels.bar([i + offset for i in range(len(others))], [table[k]["pooled"]["accuracy"] for k in others], 0.38,
                     label=name, color="#bbb" if style == "--" else "#1e88e5")
        channels.set_xticks(range(len(others)), others)
    curves.set_xticks([5, 10, 20, 30], ["5 dB", "10 dB", "20 dB", "as\nrecorded"])
    curves.set_xlabel("signal-to-noise ratio")
    curves.set_ylabel("accuracy (RAVDESS, actors held out)")
    curves.set_ylim(0, 1)
    channels.set_ylim(0, 1)
    curves.legend(fontsize=7)
    channels.legend(fontsize=7)
    curves.set_title("noise", fontsize=10)
    channels.set_title("room and codecs", fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
