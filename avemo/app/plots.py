"""The app's interactive Plotly charts (probability bars, timelines, how each modality voted), in the
shared emotion colours. The model cards' PNG figures are in avemo.card_figures.

The charts must read on a phone (390 px wide) and in dark mode, so:
- titles are short (a line of about 40 characters); what a chart means in more words is the page's text
  beside it (see `timeline_notes`), which wraps, where a Plotly title would be cut;
- legends sit under the plot, where they wrap instead of running into the title;
- backgrounds are transparent and text and grid colours are the page's (PAGE_CSS in avemo.app.page
  recolours them in dark mode), so a chart follows the theme.
"""
from __future__ import annotations


import numpy as np

from avemo.config import EMOTION_COLOURS, EMOTIONS


def emotion_colours(labels=EMOTIONS) -> list[str]:
    return [EMOTION_COLOURS[name] for name in labels]


# Each emotion's line in a timeline also has its own marker, so two lines are told apart by more than colour
# (colour-blind eyes, a dim screen).
EMOTION_MARKERS: dict[str, str] = {
    "neutral": "circle", "calm": "square", "happy": "star", "sad": "triangle-down",
    "angry": "x", "fearful": "diamond", "disgust": "cross", "surprised": "triangle-up",
}

PROBABILITY_AXIS = dict(range=[0, 1], tickformat=".0%", title="probability")
TRANSPARENT = "rgba(0,0,0,0)"
GRID = "rgba(128,128,128,0.25)"   # reads on a light and on a dark page
OUTLINE = "#888"                  # the top bar's outline, on either page
LEGEND_GAP_PIXELS = 70  # from the plot area's bottom edge to the legend under it: room for the x axis's title


def _legend_below(height: int, margin: dict) -> dict:
    """A horizontal legend a fixed distance under the plot area (plotly places it in shares of that area)."""
    plot_area = height - margin["t"] - margin["b"]
    return dict(orientation="h", x=0, xanchor="left", y=-LEGEND_GAP_PIXELS / plot_area, yanchor="top")


def _layout(fig, title: str, height: int, **extra) -> None:
    """What every chart shares: a short title, transparent backgrounds, grey grids."""
    fig.update_layout(title=dict(text=title, x=0.02, xanchor="left"), height=height, paper_bgcolor=TRANSPARENT,
                      plot_bgcolor=TRANSPARENT, **extra)
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID)


def _message_figure(title: str, message: str, height: int = 300):
    """A plot-sized panel that says why there is nothing to plot (same size as the charts it replaces)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14), align="center")
    _layout(fig, title, height, xaxis=dict(visible=False), yaxis=dict(visible=False),
            margin=dict(l=20, r=20, t=50, b=20))
    return fig


def _wrap(text: str, width: int = 34) -> str:
    """Break a message into lines for a plot annotation (plotly does not wrap text itself)."""
    import textwrap

    return "<br>".join(textwrap.wrap(text, width)) or text


def probability_bars(probs: dict[str, float] | None, title: str, unavailable: str | None = None,
                     height: int = 300, subtitle: str | None = None):
    """Class probabilities as bars: EMOTIONS order, one colour per emotion, y axis 0..1.

    `probs` None gives a panel that says `unavailable` instead of an empty chart; `subtitle` is a small
    line under the title (how often this model is right, say), at most about 45 characters.
    """
    import plotly.graph_objects as go

    if probs is None:
        return _message_figure(title, _wrap(f"Not analysed: {unavailable or 'no result'}"), height)
    values = [float(probs.get(name, 0.0)) for name in EMOTIONS]
    top = int(np.argmax(values))
    fig = go.Figure(go.Bar(
        x=list(EMOTIONS), y=values, marker_color=emotion_colours(),
        marker_line=dict(width=[2.5 if i == top else 0 for i in range(len(EMOTIONS))], color=OUTLINE),
        text=[f"{v:.0%}" if v >= 0.05 else "" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    ))
    heading = f"{title}: <b>{EMOTIONS[top]}</b> ({values[top]:.0%})"
    if subtitle:
        heading += f"<br><sup>{subtitle}</sup>"
    _layout(fig, heading, height, yaxis=PROBABILITY_AXIS, xaxis=dict(tickangle=-35), showlegend=False,
            margin=dict(l=50, r=10, t=70 if subtitle else 50, b=60), bargap=0.25)
    return fig


def probability_timeline(result: dict, modalities=("audio", "video"), names: dict[str, str] | None = None,
                         height_per_row: int = 200):
    """Per-window probabilities over time, one row per analysed modality, one line per emotion.

    Reads `result[m]["timeline"]` = [{"start", "end", "probs"}]; a window is drawn at its middle, with
    the same colours as the bars and a marker per emotion. The face's sampled frames
    (`result["video"]["frame_timeline"]` = [{"time", "probs"}]) are drawn as thin lines beneath its windows,
    and the voice's stretches of speech (`speech_segments`) shaded. `timeline_notes` says all this in words.
    With no modality to draw, the panel says why.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = names or {}
    rows = [m for m in modalities if (result.get(m) or {}).get("timeline")]
    if not rows:
        missing = [f"{names.get(m, m)}: not analysed ({(result.get('unavailable') or {}).get(m, 'no result')})"
                   for m in modalities]
        return _message_figure("Over time", _wrap(result.get("error") or "; ".join(missing), 60), 220)
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    end = max(w["end"] for m in rows for w in result[m]["timeline"])
    for row, m in enumerate(rows, start=1):
        timeline = result[m]["timeline"]
        middles = [(w["start"] + w["end"]) / 2 for w in timeline]
        for name in EMOTIONS:
            fig.add_trace(go.Scatter(
                x=middles, y=[w["probs"].get(name, 0.0) for w in timeline], name=name,
                legendgroup=name, showlegend=row == 1, mode="lines+markers",
                line=dict(color=EMOTION_COLOURS[name], width=2),
                marker=dict(size=9, symbol=EMOTION_MARKERS[name]),
                # A single window: show the stretch of the clip it covers as a horizontal bar.
                error_x=dict(type="data", array=[(w["end"] - w["start"]) / 2 for w in timeline],
                             visible=len(timeline) == 1, color=EMOTION_COLOURS[name], thickness=1.5, width=4),
                customdata=[[w["start"], w["end"]] for w in timeline],
                hovertemplate=f"{name}: %{{y:.1%}} (window %{{customdata[0]:.1f}}-%{{customdata[1]:.1f}} s)"
                              "<extra></extra>",
            ), row=row, col=1)
        if m == "video":
            _add_frame_lines(fig, (result.get("video") or {}).get("frame_timeline") or [], row)
        if m == "audio":
            for start, stop in (result.get("audio") or {}).get("speech_segments") or []:
                fig.add_vrect(x0=start, x1=stop, row=row, col=1, fillcolor="#607d8b", opacity=0.12, line_width=0,
                              layer="below")
        fig.update_yaxes(range=[0, 1], tickformat=".0%", row=row, col=1, title_text=names.get(m, m),
                         title_font=dict(size=14))
    height, margin = height_per_row * len(rows) + 170, dict(l=60, r=10, t=50, b=40)
    _layout(fig, "Over time", height, margin=margin, legend=_legend_below(height, margin), hovermode="closest")
    fig.update_xaxes(range=[0, max(end, 1.0)])
    fig.update_xaxes(title_text="seconds into the clip", row=len(rows), col=1)
    return fig


def timeline_notes(result: dict, modalities=("audio", "video"), names: dict[str, str] | None = None) -> list[str]:
    """What the timeline's marks are, in words, for the text under it (one line per modality drawn)."""
    names = names or {}
    notes = []
    voice = result.get("audio") or {}
    if "audio" in modalities and voice.get("timeline"):
        note = (f"{names.get('audio', 'audio')}: each point is a stretch of speech, at its middle, read by every voice "
                "expert")
        if voice.get("verdict_from"):
            note += f"; the voice's verdict comes from {voice['verdict_from']}"
        if voice.get("speech_segments"):
            note += "; shaded: where the speech detector heard speech"
        notes.append(note)
    face = result.get("video") or {}
    if "video" in modalities and face.get("timeline"):
        note = f"{names.get('video', 'video')}: large points, each window of the clip, its frames pooled, at its middle"
        if face.get("frame_timeline"):  # a short clip is one face window: its frames show how the face changed
            note += "; thin lines, each sampled frame alone"
        notes.append(note)
    return notes


def _add_frame_lines(fig, frames: list[dict], row: int) -> None:
    """Each sampled face's own probabilities (`video.frame_timeline`), thin and faint under the windows."""
    import plotly.graph_objects as go

    times = [frame["time"] for frame in frames]
    for name in EMOTIONS:
        fig.add_trace(go.Scatter(
            x=times, y=[frame["probs"].get(name, 0.0) for frame in frames], name=name, legendgroup=name,
            showlegend=False, mode="lines+markers", opacity=0.45,
            line=dict(color=EMOTION_COLOURS[name], width=1), marker=dict(size=5, symbol=EMOTION_MARKERS[name]),
            hovertemplate=f"{name}: %{{y:.1%}} (the frame at %{{x:.2f}} s alone)<extra></extra>",
        ), row=row, col=1)


CONTRIBUTION_COLOURS = {"audio": "#1e88e5", "video": "#f4511e"}


def contribution_bars(fused: dict, names: dict[str, str], height: int = 340):
    """How the voice and the face voted on each emotion in the fused verdict: the bits each added for (+) or
    against (-) it (`fused["contributions"]`), as paired horizontal bars. The page says why the winner won
    (`fused["reason"]`) in words beside it."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for modality, push in fused["contributions"].items():
        values = [float(push.get(name, 0.0)) for name in EMOTIONS]
        fig.add_trace(go.Bar(
            y=list(EMOTIONS), x=values, orientation="h", name=names.get(modality, modality),
            marker_color=CONTRIBUTION_COLOURS.get(modality, "#888"),
            hovertemplate=f"{names.get(modality, modality)}: %{{x:+.2f}} bits toward %{{y}}<extra></extra>"))
    margin = dict(l=80, r=10, t=50, b=40)
    _layout(fig, "How the voice and the face voted", height, barmode="group", margin=margin,
            yaxis=dict(autorange="reversed"), legend=_legend_below(height, margin),
            xaxis=dict(title="bits for (+) or against (−) each emotion"))
    fig.update_xaxes(zeroline=True, zerolinewidth=2, zerolinecolor=OUTLINE)
    return fig
