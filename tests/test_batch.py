"""Batches (avemo.batch, `avemo predict --workers/--output/--engine ray`) on real clips, against the serial path."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avemo import batch
from avemo.config import REPO_ROOT

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("batch")
    bad = folder / "notes.wav"  # text under a media name: passes the size checks, fails in the decoder
    bad.write_text("plain text, not audio\n" * 20)
    return {
        "ravdess": clips.ravdess_clip(actor=23, emotion=5, intensity=2),
        "ravdess_sad": clips.ravdess_clip(actor=3, emotion=4, intensity=1),
        "savee": clips.savee_clip("KL_su05"),
        "video": clips.still_video(folder / "face.mp4", clips.face_still(7), clips.ravdess_clip(actor=7, emotion=3),
                                   seconds=2.5, fps=10),
        "bad": bad,
    }


@pytest.fixture(scope="module")
def good(inputs) -> list[Path]:
    return [inputs[k] for k in ("ravdess", "ravdess_sad", "savee", "video")]


@pytest.fixture(scope="module")
def predictor():
    os.environ.setdefault("AVEMO_OFFLINE", "1")
    from avemo.predict import Predictor

    return Predictor()


@pytest.fixture(scope="module")
def serial(predictor, good) -> dict[str, dict]:
    """The reference: the serial path's results, by input path."""
    return {str(p): predictor.predict(p) for p in good}


@pytest.fixture(scope="module")
def parallel_run(inputs, good, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One `avemo predict --workers 2 --output FILE` run over the good clips and the bad file."""
    output = tmp_path_factory.mktemp("parallel") / "results.jsonl"
    proc = subprocess.run([sys.executable, "-m", "avemo", "predict", "--workers", "2", "--output", str(output),
                           *map(str, good), str(inputs["bad"])], cwd=REPO_ROOT,
                          env={**os.environ, "AVEMO_OFFLINE": "1"}, capture_output=True, text=True, timeout=300)
    return proc, output


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_same(result: dict, reference: dict) -> None:
    assert result["error"] is None and reference["error"] is None, (result["error"], reference["error"])
    for modality in ("audio", "video", "fused"):
        ours, theirs = result[modality], reference[modality]
        assert (ours is None) == (theirs is None), modality
        if ours is None:
            continue
        assert ours["label"] == theirs["label"], (result["path"], modality)
        assert ours["probs"].keys() == theirs["probs"].keys()
        for emotion, p in theirs["probs"].items():
            assert abs(ours["probs"][emotion] - p) <= TOLERANCE, (result["path"], modality, emotion)


def test_two_workers_give_the_serial_results(parallel_run, serial):
    proc, output = parallel_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    results = {r["path"]: r for r in read_lines(output)}
    assert serial.keys() <= results.keys()
    for path, reference in serial.items():
        assert_same(results[path], reference)
        assert results[path]["input_key"] == batch.content_key(path)
    video = next(r for p, r in results.items() if p.endswith(".mp4"))
    assert video["video"]["faces_found"] > 0 and video["fused"]["modalities"] == ["audio", "video"]


def test_a_bad_file_in_a_parallel_batch_costs_one_error_line(parallel_run, inputs, good):
    proc, output = parallel_run
    lines = read_lines(output)
    assert sorted(r["path"] for r in lines) == sorted(map(str, [*good, inputs["bad"]]))
    errors = [r for r in lines if r["error"]]
    assert [r["path"] for r in errors] == [str(inputs["bad"])]
    assert "not a readable audio or video file" in errors[0]["error"]
    assert "5 input(s) analysed (1 with an error), 0 already in" in proc.stderr


def test_an_interrupted_output_resumes_with_every_input_exactly_once(parallel_run, predictor, inputs, good,
                                                                     tmp_path, monkeypatch):
    _, finished = parallel_run
    lines = finished.read_text().splitlines(keepends=True)
    output = tmp_path / "results.jsonl"
    # As if killed: one whole line never written (the clip was in flight), the last one cut in half.
    kept = lines[1:-1] + [lines[-1][: len(lines[-1]) // 2]]
    output.write_text("".join(kept))
    redo = {json.loads(lines[0])["path"], json.loads(lines[-1])["path"]}
    assert len(batch.done_keys(output)) == len(lines) - 2

    monkeypatch.setattr(batch, "default_predictor", lambda: predictor)  # the loaded models, not a second load
    analysed = []
    summary = batch.run_batch([*good, inputs["bad"]], output=output, progress=False,
                              on_result=lambda i, r: analysed.append(r["path"]))
    assert sorted(analysed) == sorted(redo)
    assert (summary.total, summary.skipped, summary.analysed) == (5, 3, 2)
    results = read_lines(output)  # every line valid JSON, the cut one gone
    assert sorted(r["path"] for r in results) == sorted(map(str, [*good, inputs["bad"]]))
    assert len({r["input_key"] for r in results}) == 5
    # And once more: nothing left to do, nothing appended.
    before = output.read_bytes()
    assert batch.run_batch([*good, inputs["bad"]], output=output, progress=False).analysed == 0
    assert output.read_bytes() == before


def crashing_predictor():
    """A stand-in Predictor whose process dies (as in a native crash) on any file named crash*."""
    class Crashing:
        def predict(self, path, **_):
            if Path(path).name.startswith("crash"):
                os._exit(3)
            return batch.error_result(path, None) | {"notes": ["fine"]}
    return Crashing()


def test_a_worker_that_dies_costs_its_file_one_error_and_the_batch_goes_on(tmp_path):
    paths = []
    for name in ("a.wav", "crash.wav", "b.wav", "c.wav", "d.wav"):
        (tmp_path / name).write_bytes(b"x" * 100)
        paths.append(tmp_path / name)
    results = batch.run_parallel(paths, 2, predictor_factory=crashing_predictor)
    assert [Path(r["path"]).name for r in results] == ["a.wav", "crash.wav", "b.wav", "c.wav", "d.wav"]
    assert results[1]["error"] == batch.CRASH_ERROR
    assert all(r["error"] is None and r["notes"] == ["fine"] for i, r in enumerate(results) if i != 1)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own, about its context's old fields
def test_ray_gives_the_serial_results(serial, good, inputs, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 2**20)
    try:
        output = tmp_path / "ray.jsonl"
        summary = batch.run_ray([*good, inputs["bad"]], num_actors=2, output=output, progress=False)
    finally:
        ray.shutdown()
    assert (summary.analysed, summary.errors) == (5, 1)
    results = {r["path"]: r for r in read_lines(output)}
    for path, reference in serial.items():
        assert_same(results[path], reference)
        assert results[path]["input_key"] == batch.content_key(path)
    assert "not a readable audio or video file" in results[str(inputs["bad"])]["error"]
