"""The app's interactive Plotly charts (probability bars, timelines, what pushed the verdict), in the
shared emotion colours. The model cards' PNG figures are in avemo.card_figures."""
from __future__ import annotations


import numpy as np

from avemo.config import EMOTION_COLOURS, EMOTIONS


def emotion_colours(labels=EMOTIONS) -> list[str]:
    return [EMOTION_COLOURS[name] for name in labels]


# -- the app's interactive charts (plotly) ------------------------------------------------------
PROBABILITY_AXIS = dict(range=[0, 1], tickformat=".0%", title="probability")


def _message_figure(title: str, message: str, height: int = 300):
    """A plot-sized panel that says why there is nothing to plot (same size as the charts it replaces)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#555"), align="center")
    fig.update_layout(title=dict(text=title, x=0.02), height=height, xaxis=dict(visible=False),
                      yaxis=dict(visible=False), plot_bgcolor="#fafafa",
                      margin=dict(l=20, r=20, t=50, b=20))
    return fig


def _wrap(text: str, width: int = 34) -> str:
    """Break a reason into lines for a plot annotation (plotly does not wrap text itself)."""
    import textwrap

    return "<br>".join(textwrap.wrap(text, width)) or text


def probability_bars(probs: dict[str, float] | None, title: str, unavailable: str | None = None,
                     height: int = 300, subtitle: str | None = None):
    """Class probabilities as bars: EMOTIONS order, one colour per emotion, y axis 0..1.

    `probs` None gives a panel that says `unavailable` instead of an empty chart; `subtitle` is a small
    line under the title (how often this model is right, say).
    """
    import plotly.graph_objects as go

    if probs is None:
        return _message_figure(title, _wrap(f"Not analysed: {unavailable or 'no result'}"), height)
    values = [float(probs.get(name, 0.0)) for name in EMOTIONS]
    top = int(np.argmax(values))
    fig = go.Figure(go.Bar(
        x=list(EMOTIONS), y=values, marker_color=emotion_colours(),
        marker_line=dict(width=[2.5 if i == top else 0 for i in range(len(EMOTIONS))], color="#222"),
        text=[f"{v:.0%}" if v >= 0.05 else "" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    ))
    heading = f"{title}: <b>{EMOTIONS[top]}</b> ({values[top]:.0%})" + (f"<br><sup>{subtitle}</sup>" if subtitle else "")
    fig.update_layout(title=dict(text=heading, x=0.02),
                      height=height, yaxis=PROBABILITY_AXIS, xaxis=dict(tickangle=-35),
                      showlegend=False, margin=dict(l=50, r=10, t=70 if subtitle else 50, b=60), plot_bgcolor="white",
                      bargap=0.25)
    fig.update_yaxes(gridcolor="#eee")
    return fig


def probability_timeline(result: dict, modalities=("audio", "video"), names: dict[str, str] | None = None,
                         height_per_row: int = 230):
    """Per-window probabilities over time, one row per analysed modality, one line per emotion.

    Reads `result[m]["timeline"]` = [{"start", "end", "probs"}]; a window is drawn at its middle, with
    the same colours as the bars. The face's sampled frames (`result["video"]["frame_timeline"]` = [{"time",
    "probs"}]) are drawn as thin lines beneath its windows. Modalities without a result are named in the title
    with the reason (`result["unavailable"][m]`); with none at all the panel says why.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = names or {}
    rows = [m for m in modalities if (result.get(m) or {}).get("timeline")]
    missing = [f"{names.get(m, m)}: not analysed ({(result.get('unavailable') or {}).get(m, 'no result')})"
               for m in modalities if m not in rows]
    title = "Over time" + (" &nbsp;·&nbsp; " + "; ".join(missing) if missing and rows else "")
    verdict_from = (result.get("audio") or {}).get("verdict_from")
    voiced = (result.get("audio") or {}).get("speech_segments") or []
    explained = []
    if "audio" in rows and verdict_from:  # what the voice's points are, and where its headline comes from
        explained.append(f"{names.get('audio', 'audio')}: each point is a stretch of speech read by every voice "
                         f"expert; the voice's verdict comes from {verdict_from}"
                         + ("; shaded: where the speech detector heard speech" if voiced else ""))
    frames = (result.get("video") or {}).get("frame_timeline") or [] if "video" in rows else []
    if frames:  # a short clip is one face window: its frames show how the face changed
        explained.append(f"{names.get('video', 'video')}: thin lines, each sampled frame alone; large points, each "
                         "window's verdict, its frames pooled")
    if explained:
        title += "".join(f"<br><sup>{line}</sup>" for line in explained)
    if not rows:
        return _message_figure("Over time", _wrap(result.get("error") or "; ".join(missing), 80), 220)
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    end = max(w["end"] for m in rows for w in result[m]["timeline"])
    for row, m in enumerate(rows, start=1):
        timeline = result[m]["timeline"]
        middles = [(w["start"] + w["end"]) / 2 for w in timeline]
        for name in EMOTIONS:
            fig.add_trace(go.Scatter(
                x=middles, y=[w["probs"].get(name, 0.0) for w in timeline], name=name,
                legendgroup=name, showlegend=row == 1, mode="lines+markers",
                line=dict(color=EMOTION_COLOURS[name], width=2), marker=dict(size=9),
                # A single window: show the stretch of the clip it covers as a horizontal bar.
                error_x=dict(type="data", array=[(w["end"] - w["start"]) / 2 for w in timeline],
                             visible=len(timeline) == 1, color=EMOTION_COLOURS[name], thickness=1.5, width=4),
                customdata=[[w["start"], w["end"]] for w in timeline],
                hovertemplate=f"{name}: %{{y:.1%}} (window %{{customdata[0]:.1f}}-%{{customdata[1]:.1f}} s)"
                              "<extra></extra>",
            ), row=row, col=1)
        if m == "video" and frames:
            _add_frame_lines(fig, frames, row)
        if m == "audio":
            for start, stop in voiced:
                fig.add_vrect(x0=start, x1=stop, row=row, col=1, fillcolor="#607d8b", opacity=0.12, line_width=0,
                              layer="below")
        fig.update_yaxes(range=[0, 1], tickformat=".0%", row=row, col=1, gridcolor="#eee",
                         title_text=names.get(m, m), title_font=dict(size=14))
    fig.update_xaxes(range=[0, max(end, 1.0)], gridcolor="#eee")
    fig.update_xaxes(title_text="seconds into the clip (each large point: one analysis window, at its middle)",
                     row=len(rows), col=1)
    fig.update_layout(title=dict(text=title, x=0.02), height=height_per_row * len(rows) + 90 + 15 * len(explained),
                      plot_bgcolor="white", margin=dict(l=60, r=10, t=80 + 15 * len(explained), b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"),
                      hovermode="closest")
    return fig


def _add_frame_lines(fig, frames: list[dict], row: int) -> None:
    """Each sampled face's own probabilities (`video.frame_timeline`), thin and faint under the windows."""
    import plotly.graph_objects as go

    times = [frame["time"] for frame in frames]
    for name in EMOTIONS:
        fig.add_trace(go.Scatter(
            x=times, y=[frame["probs"].get(name, 0.0) for frame in frames], name=name, legendgroup=name,
            showlegend=False, mode="lines+markers", opacity=0.45,
            line=dict(color=EMOTION_COLOURS[name], width=1), marker=dict(size=4),
            hovertemplate=f"{name}: %{{y:.1%}} (the frame at %{{x:.2f}} s alone)<extra></extra>",
        ), row=row, col=1)


CONTRIBUTION_COLOURS = {"audio": "#1e88e5", "video": "#f4511e"}


def contribution_bars(fused: dict | None, names: dict[str, str], height: int = 300):
    """How much the voice and the face each pushed each emotion in the fused verdict (bits, + for, - against),
    as paired horizontal bars, with the fused result's `reason` under the title."""
    import plotly.graph_objects as go

    title = "What pushed the verdict"
    pushes = (fused or {}).get("contributions")
    if not pushes:
        why = "needs both the voice and the face" if fused else "nothing was analysed"
        return _message_figure(title, _wrap(f"No fusion to explain: {why}", 60), 160)
    fig = go.Figure()
    for modality, push in pushes.items():
        values = [float(push.get(name, 0.0)) for name in EMOTIONS]
        fig.add_trace(go.Bar(
            y=list(EMOTIONS), x=values, orientation="h", name=names.get(modality, modality),
            marker_color=CONTRIBUTION_COLOURS.get(modality, "#888"),
            hovertemplate=f"{names.get(modality, modality)}: %{{x:+.2f}} bits toward %{{y}}<extra></extra>"))
    reason = fused.get("reason") or ""
    fig.update_layout(
        title=dict(text=f"{title}: bits each modality added for (+) or against (−) each emotion"
                        f"<br><sup>{reason}</sup>", x=0.02),
        barmode="group", height=height + 40, plot_bgcolor="white", margin=dict(l=90, r=10, t=80, b=40),
        yaxis=dict(autorange="reversed"), xaxis=dict(title="bits (log2 of the odds it adds)", zeroline=True,
                                                     zerolinecolor="#444", gridcolor="#eee"),
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    return fig
