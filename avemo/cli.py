"""Command line: `avemo predict PATH...` (files or folders, recursively).

Prints a readable table, or with `--format jsonl` one JSON object per input (the same dict as
`avemo.predict`). With `--face-aus FILE` (OpenFace output for the clip: its per-frame CSV, or a
clip-means table with a row for its take), the face-AU expert is the face modality. A bad input gets its
error and the run goes on; the exit code is non-zero only if every input failed.

Every run goes through avemo.batch (in this process by default): `--workers N` runs N worker processes, `--output FILE` appends each result to a
JSONL file as it finishes and skips the inputs already there (run the same command again to resume),
`--engine ray [--ray-address ADDRESS]` runs on Ray Data, `--output-format parquet` writes Parquet files.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from avemo import __version__
from avemo.backend import filter_native_logs
from avemo.config import AUDIO_EXTENSIONS, MAX_ANALYSIS_SECONDS, VIDEO_EXTENSIONS

FORMATS = (f"Formats read: audio {' '.join(AUDIO_EXTENSIONS)}; video {' '.join(VIDEO_EXTENSIONS)} "
           "(decoded with ffmpeg; a video's sound track is the voice).")


def _cell(result: dict | None, reason: str | None) -> str:
    if result is None:
        return f"- ({reason})" if reason else "-"
    return f"{result['label']} {result['confidence']:.0%}"


def format_table(results: list[dict]) -> str:
    """A fixed-width table: one row per input with audio, video and fused verdicts."""
    header = ("input", "audio", "video", "fused", "note")
    rows = []
    for r in results:
        if r["error"]:
            rows.append((r["path"], "", "", "", f"error: {r['error']}"))
            continue
        fused = r["fused"]
        note = "; ".join(r["notes"])
        if fused and fused.get("agreement") and fused["agreement"]["verdict"] != "agree":
            note = "; ".join(filter(None, [fused["agreement"]["message"], note]))
        rows.append((
            r["path"],
            _cell(r["audio"], r["unavailable"].get("audio")),
            _cell(r["video"], r["unavailable"].get("video")),
            _cell(fused, None),
            note,
        ))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    widths[-1] = 0  # the note column is not padded
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * max(w, 4) for w in widths).rstrip())
    return "\n".join(lines)


def predict_command(args: argparse.Namespace) -> int:
    from avemo.media import MediaError, expand_inputs

    inputs = expand_inputs(args.paths)
    if args.face_aus and len(inputs) != 1:
        print("avemo: --face-aus describes one clip: give exactly one input file with it", file=sys.stderr)
        return 2
    face_aus = None
    if args.face_aus:
        from avemo.face.openface import read_clip_action_units

        try:
            face_aus = read_clip_action_units(args.face_aus, take=inputs[0].name)
        except MediaError as error:
            print(f"avemo: --face-aus {args.face_aus}: {error}", file=sys.stderr)
            return 2
    return batch_command(args, inputs, face_aus)


def batch_command(args: argparse.Namespace, inputs: list, face_aus) -> int:
    """Every input through avemo.batch: in this process by default, or worker processes, or Ray; printed in
    input order, or appended to a resumable --output file."""
    from avemo.batch import BatchError, InOrder, ModelLoadError, run_batch

    if args.workers is not None and args.workers < 1:
        print("avemo: --workers needs a number of at least 1", file=sys.stderr)
        return 2
    if args.ray_address and args.engine != "ray":
        print("avemo: --ray-address goes with --engine ray", file=sys.stderr)
        return 2
    results: list[dict] = []
    if args.output:
        on_result = None
    elif args.format == "jsonl":
        on_result = InOrder(lambda result: print(json.dumps(result), flush=True))
    else:
        on_result = InOrder(results.append)
    kwargs = {"modality": args.modality, "max_seconds": args.max_seconds, "face_aus": face_aus}
    try:
        summary = run_batch(inputs, engine=args.engine, workers=args.workers, ray_address=args.ray_address,
                            predict_kwargs=kwargs, output=args.output, output_format=args.output_format,
                            on_result=on_result,
                            progress=bool(args.output) or (args.format == "table" and len(inputs) > 1),
                            verbose=args.verbose)
    except ModelLoadError as error:
        print(f"avemo: the models could not be loaded: {error}", file=sys.stderr)
        return 2
    except BatchError as error:
        print(f"avemo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.output:
            print(f"avemo: interrupted; the finished results are in {args.output}: run the same command again "
                  "to go on", file=sys.stderr)
        return 130
    if args.output:
        print(f"avemo: {summary.analysed} input(s) analysed ({summary.errors} with an error), {summary.skipped} "
              f"already in {args.output}", file=sys.stderr)
    elif args.format == "table":
        print(format_table(results))
    return 0 if summary.analysed == 0 or summary.errors < summary.analysed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avemo", description="Audio-visual emotion recognition.", epilog=FORMATS)
    parser.add_argument("--version", action="version", version=f"avemo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="analyse media files or folders", epilog=FORMATS,
                                  description="Which emotion each file's voice and face show, and both together.")
    predict.add_argument("paths", nargs="+", help="audio/video files, or folders searched recursively for them")
    predict.add_argument("--format", choices=["table", "jsonl"], default="table",
                         help="table: one readable row per input (default); jsonl: one JSON object per input, "
                              "as avemo.predict returns it")
    predict.add_argument("--modality", choices=["both", "audio", "video"], default="both",
                         help="analyse the voice, the face, or both and their fusion (default)")
    predict.add_argument("--face-aus", metavar="FILE",
                         help="OpenFace output for the (one) input clip: its per-frame CSV, or a clip-means table "
                              "with a row for its RAVDESS take; the face-AU expert then reads the face")
    predict.add_argument("--max-seconds", type=float, default=MAX_ANALYSIS_SECONDS,
                         help="analyse at most this much of each clip (default %(default)s)")
    batch = predict.add_argument_group("batches", "many files: worker processes, resumable output, Ray Data")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="worker processes, each loading the models once; default 1, in this process. "
                            "With --engine ray: Ray actors (default one per CPU of the cluster)")
    batch.add_argument("--output", metavar="FILE",
                       help="append each result to FILE as one JSON line as soon as it is done (instead of "
                            "printing it); inputs already in FILE (same path and content) are skipped, so the "
                            "same command run again resumes. With --output-format parquet: a folder")
    batch.add_argument("--engine", choices=["local", "ray"], default="local",
                       help="local: this machine (default); ray: Ray Data, one Predictor per actor "
                            "(needs pip install 'avemo[batch]')")
    batch.add_argument("--ray-address", metavar="ADDRESS",
                       help="the Ray cluster to run on ('auto': the one `ray start` made on this machine; "
                            "ray://HOST:10001 for a remote one); default: start a local instance")
    batch.add_argument("--output-format", choices=["jsonl", "parquet"], default="jsonl",
                       help="jsonl: one JSON line per input (default); parquet (with --engine ray): Parquet "
                            "files in the --output folder, the JSON result in column 'result'")
    predict.add_argument("-v", "--verbose", action="store_true", help="log model loading and failures")
    args = parser.parse_args(argv)
    filter_native_logs()  # before logging binds to sys.stderr (see avemo.backend)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    return predict_command(args)


if __name__ == "__main__":
    sys.exit(main())
