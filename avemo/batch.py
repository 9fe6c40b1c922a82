"""Batch analysis of many files: resumable JSONL output, worker processes on one machine, Ray Data on a cluster.

    avemo predict --workers 2 --output results.jsonl archive/     # the CLI; the same command again resumes
    avemo predict --engine ray --ray-address auto --output results.jsonl archive/

`content_key(path)` (the path and the sha256 of the file's bytes) identifies an input. `append_result`
writes each result as one whole line (one write call, then fsync), tagged with its "input_key";
`done_keys` reads the keys back, so a run started again skips what is already there. A crash can only
cut the last line: `done_keys` ignores it and the next `append_result` cuts it off before writing, so
that input is analysed again. An interrupted run loses at most the clips in flight.

`iter_parallel` runs N spawned worker processes (mediapipe's and ONNX Runtime's threads are not fork-safe), each loading one
Predictor once; results come back as they finish, tagged with their input's index. A file that
kills its worker (a native crash, the out-of-memory killer) costs that file one error result: the pool
restarts, the files in flight with it are retried one at a time, and the batch goes on.

`iter_ray` does the same with Ray Data: `map_batches` over a pool of actors that each hold one
Predictor; `run_batch` writes its results as the same JSONL lines, or as Parquet. Ray is an optional
extra (pip install 'avemo[batch]').

Memory: every worker (or actor) holds its own Predictor, which loads a modality's models at the first
input that needs them (a batch of audio files never loads the face models), once, shared by its threads:
about 0.74 GB resident for the voice, 0.91 GB with the face (bench.batch), mostly the Whisper encoders'
weights (some 110 MB), ONNX Runtime, mediapipe, openSMILE and librosa. Those heaps are private to each process
and cannot be shared; only code pages are (`bench.batch` shows the proportional share, PSS, next to RSS).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

RAY_MISSING = "the Ray engine needs Ray Data, an optional extra: pip install 'avemo[batch]'"
CRASH_ERROR = ("the worker process analysing this file died (a crash in native code, or the system ran out "
               "of memory); the rest of the batch went on")
MAX_POOL_RESTARTS = 10  # after this many dead pools in one run, the remaining inputs are reported, not tried


class BatchError(Exception):
    """A batch cannot run at all (bad options, Ray missing); the message is for the user."""


class ModelLoadError(BatchError):
    """The models could not be loaded (in this process, a worker or an actor)."""


@dataclass
class BatchSummary:
    total: int          # inputs given
    skipped: int        # already in the output file (resumed)
    analysed: int       # results produced by this run
    errors: int         # of which carry an "error"


# -- identity and resumable output ---------------------------------------------------------
def content_key(path: str | os.PathLike) -> str:
    """The input's identity: its path as given plus the sha256 of its bytes (read in 1 MB chunks)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(2**20):
                digest.update(chunk)
    except IsADirectoryError:
        return f"{path}#folder"
    except OSError:  # missing or unreadable: its error line is keyed too, until the file appears
        return f"{path}#unreadable"
    return f"{path}#sha256:{digest.hexdigest()}"


def done_keys(output_path: str | os.PathLike) -> set[str]:
    """The input keys of the complete result lines in a JSONL file (none if it does not exist yet).

    A line that is not valid JSON (the last one, cut by a crash) is ignored: its input is done again,
    and `append_result` cuts the broken tail off before it writes."""
    path = Path(output_path)
    keys: set[str] = set()
    if not path.exists():
        return keys
    with open(path, "rb") as stream:
        for line in stream:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("input_key"), str):
                keys.add(record["input_key"])
    return keys


def _repair_tail(fd: int) -> None:
    """Make an append start on a fresh line: drop a cut last line, or end a whole one with its newline."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = size  # where the unfinished last line begins
    while start > 0:
        chunk = os.pread(fd, min(start, 65536), max(0, start - 65536))
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            start = start - len(chunk) + newline + 1
            break
        start -= len(chunk)
    tail = os.pread(fd, size - start, start)
    try:
        json.loads(tail)
    except ValueError:
        os.ftruncate(fd, start)  # cut mid-way: that input is analysed again
    else:
        os.write(fd, b"\n")      # whole, only its newline was lost


def append_result(output_path: str | os.PathLike, result: dict, key: str | None = None) -> None:
    """Append one result as one JSON line, written whole (one write call), then fsync'ed.

    The line carries "input_key" (`key`, else the result's own, else content_key of its path)."""
    record = dict(result)
    record["input_key"] = key or result.get("input_key") or content_key(result["path"])
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(output_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        _repair_tail(fd)
        written = os.write(fd, line)
        while written < len(line):  # only a full disk or a signal makes a regular file's write short
            written += os.write(fd, line[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


# -- analysing one input (shared by every engine) ----------------------------------------------
def error_result(path, message: str) -> dict:
    return {"path": str(path), "audio": None, "video": None, "fused": None, "unavailable": {}, "notes": [],
            "error": message}


def input_problem(path) -> str | None:
    """Why an input cannot be analysed at all (a folder without media, missing, empty, too big)."""
    from avemo.media import MediaError, check_input_file

    if Path(path).is_dir():
        return "the folder holds no audio or video files"
    try:
        check_input_file(path)
    except MediaError as error:
        return str(error)
    return None


def default_predictor():
    """The bundled or Hub models, each modality's loaded on its first need: a batch of audio files never
    loads the face models."""
    from avemo.predict import Predictor

    return Predictor(lazy=True)


def load_predictor(factory: Callable | None = None):
    """A Predictor from `factory` (default: `default_predictor`); ModelLoadError says why not."""
    from avemo.media import MediaError
    from avemo.predict import ModelLoadError as PredictorLoadError

    try:
        return (factory or default_predictor)()
    except (MediaError, PredictorLoadError) as error:  # e.g. the speech encoder's package is not installed
        raise ModelLoadError(str(error)) from None


def analyse_one(predictor, path, predict_kwargs: dict | None) -> dict:
    """One input's result; never raises for the input (a failure becomes its error). Raises ModelLoadError
    when the models the input needs cannot be loaded: that is no input's fault, and stops the batch."""
    from avemo.predict import ModelLoadError as PredictorLoadError

    problem = input_problem(path)
    if problem:
        return error_result(path, problem)
    try:
        return predictor.predict(path, **(predict_kwargs or {}))
    except PredictorLoadError as error:
        raise ModelLoadError(str(error)) from None
    except Exception as error:  # Predictor.predict catches bad input; this is a bug or a resource error
        return error_result(path, f"analysis failed ({type(error).__name__}: {error})".replace("\n", " "))


def iter_serial(paths: list, predict_kwargs: dict | None = None,
                predictor_factory: Callable | None = None) -> Iterator[tuple[int, dict]]:
    """(index, result) for each path, in this process, loading the Predictor at the first input."""
    predictor = None
    for index, path in enumerate(paths):
        predictor = predictor or load_predictor(predictor_factory)
        yield index, analyse_one(predictor, path, predict_kwargs)


# -- worker processes on one machine -------------------------------------------------------------
_worker_predictor = None
_worker_load_error: str | None = None


def _init_worker(predictor_factory: Callable | None) -> None:
    """A worker's initializer: load its one Predictor (module-global), once."""
    global _worker_predictor, _worker_load_error
    from avemo.backend import filter_native_logs

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    filter_native_logs()  # filtered here, line by line: N workers' notices would interleave in the parent's pipe
    try:
        _worker_predictor = load_predictor(predictor_factory)
    except Exception as error:  # reported by the parent as one message, not one traceback per worker
        _worker_load_error = str(error) if isinstance(error, ModelLoadError) else f"{type(error).__name__}: {error}"


def _work(index: int, path: str, predict_kwargs: dict | None) -> tuple[int, dict | None, str | None]:
    if _worker_load_error is not None:
        return index, None, _worker_load_error
    try:
        return index, analyse_one(_worker_predictor, path, predict_kwargs), None
    except ModelLoadError as error:  # the models this input needed (loaded on first need)
        return index, None, str(error)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut a pool down now: queued inputs are dropped, its worker processes terminated."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # (private attributes: best effort)
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    # Let the pool's manager thread see its workers gone and close its wake-up pipe now: left running, it can
    # close that pipe while the interpreter's exit hook writes to it (CPython 3.11's ProcessPoolExecutor checks
    # and writes without a lock), the likely cause of a traceback from threading's exit hook seen once in a
    # test run, after every result was written.
    if manager is not None:
        manager.join(timeout=10)


def iter_parallel(paths: list, workers: int, predict_kwargs: dict | None = None,
                  predictor_factory: Callable | None = None) -> Iterator[tuple[int, dict]]:
    """(index, result) pairs as N spawned workers finish them (any order; index is the input's position).

    At most `workers` inputs are in flight, so when a worker dies the suspects are known: a single one
    gets the crash as its error; several are retried one at a time in a fresh pool, which finds the
    culprit. `predictor_factory` must be picklable (a module-level function)."""
    import multiprocessing

    paths = [str(p) for p in paths]
    if not paths:
        return
    workers = max(1, min(workers, len(paths)))
    queue = deque(range(len(paths)))
    solo: deque[int] = deque()  # suspects of a dead pool, retried one at a time
    restarts = 0
    context = multiprocessing.get_context("spawn")
    while queue or solo:
        if restarts > MAX_POOL_RESTARTS:
            for index in [*solo, *queue]:
                yield index, error_result(paths[index], f"not analysed: the worker processes died {restarts} times "
                                                        "in this run, so the rest of the batch was given up")
            return
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                   initargs=(predictor_factory,))
        running: dict = {}
        suspects: list[int] = []
        try:
            while queue or solo or running:
                limit = 1 if solo else workers
                while len(running) < limit and (solo or queue):
                    index = (solo or queue).popleft()
                    running[pool.submit(_work, index, paths[index], predict_kwargs)] = index
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool):
                        suspects.append(index)
                    elif error is not None:  # e.g. a result that would not pickle
                        yield index, error_result(paths[index], f"analysis failed ({type(error).__name__})")
                    else:
                        _, result, load_error = future.result()
                        if load_error is not None:
                            raise ModelLoadError(load_error)
                        yield index, result
                if suspects:
                    suspects += running.values()  # the rest of the pool's futures fail the same way
                    running.clear()
                    break
        finally:  # done, a dead pool, an interrupt, or the caller stopped reading: no need to wait for
            _stop(pool)  # idle workers to tear their runtimes down
        if suspects:
            restarts += 1
            if len(suspects) == 1:
                yield suspects[0], error_result(paths[suspects[0]], CRASH_ERROR)
            else:
                solo.extend(sorted(suspects))


def run_parallel(paths: list, workers: int, predict_kwargs: dict | None = None,
                 on_result: Callable[[int, dict], None] | None = None, **options) -> list[dict]:
    """Every input's result in input order, calling `on_result(index, result)` as each one finishes."""
    results: list = [None] * len(paths)
    for index, result in iter_parallel(paths, workers, predict_kwargs, **options):
        results[index] = result
        if on_result:
            on_result(index, result)
    return results


# -- Ray Data ----------------------------------------------------------------------------------------
def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise BatchError(RAY_MISSING) from None
    return ray


def result_schema():
    """The rows of the Ray engine (and its Parquet files): "result" holds the JSONL line's JSON."""
    import pyarrow as pa

    return pa.schema([("index", pa.int64()), ("path", pa.string()), ("input_key", pa.string()),
                      ("label", pa.string()), ("error", pa.string()), ("result", pa.string())])


class RayAnalyser:
    """Ray Data's callable class for `map_batches`: each actor loads one Predictor and keeps it."""

    def __init__(self, predict_kwargs: dict | None = None, predictor_factory: Callable | None = None):
        self.predictor = load_predictor(predictor_factory)
        self.predict_kwargs = predict_kwargs

    def __call__(self, batch):
        import pyarrow as pa

        rows = []
        for index, path, key in zip(batch["index"], batch["path"], batch["input_key"]):
            result = analyse_one(self.predictor, str(path), self.predict_kwargs)
            if key:
                result["input_key"] = str(key)
            rows.append({"index": int(index), "path": str(path), "input_key": str(key),
                         "label": (result["fused"] or {}).get("label"), "error": result["error"],
                         "result": json.dumps(result)})
        return pa.Table.from_pylist(rows, schema=result_schema())  # typed: a None is a null string, not a null column


def _ray_dataset(paths: list, keys: list[str] | None, address: str | None, num_actors: int | None,
                 predict_kwargs: dict | None, verbose: bool, progress_bars: bool,
                 predictor_factory: Callable | None = None):
    import logging

    ray = import_ray()
    if not ray.is_initialized():
        options = {"logging_level": logging.INFO if verbose else logging.ERROR, "log_to_driver": verbose}
        if address is None:  # a local instance on this machine, for this run
            options["include_dashboard"] = False
        ray.init(address=address, **options)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress_bars
    if not verbose:
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # its failures reach the caller as exceptions
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = max(1, min(num_actors or cpus, cpus, len(paths)))
    items = [{"index": i, "path": str(p), "input_key": keys[i] if keys else ""} for i, p in enumerate(paths)]
    return ray.data.from_items(items).map_batches(
        RayAnalyser, fn_constructor_kwargs={"predict_kwargs": predict_kwargs, "predictor_factory": predictor_factory},
        batch_format="pandas", batch_size=1, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1)


@contextlib.contextmanager
def _native_stderr_dropped(drop: bool):
    """Drop what Ray's C++ core writes on descriptor 2 while it runs (notices such as "constructor arguments in
    the object store"), when Python's sys.stderr has a descriptor of its own (avemo.backend.filter_native_logs,
    as the CLI installs it): avemo's messages and the progress bar still arrive. -v keeps everything."""
    try:
        separate = drop and sys.stderr.fileno() != 2
    except (AttributeError, OSError, ValueError):
        separate = False
    if not separate:
        yield
        return
    from avemo.backend import descriptor_2_to_devnull

    with descriptor_2_to_devnull():  # (for the whole run: not native_stderr_silenced, whose lock is for short spans)
        yield


def _ray_failure(error: Exception) -> BatchError:
    text = str(error)  # Ray's error carries the actor's traceback, whose last line names the exception
    for line in reversed(text.splitlines()):
        match = re.match(r"(?:[\w.]+\.)?ModelLoadError: (.*)", line)
        if match:
            return ModelLoadError(match.group(1).strip())
    return BatchError(f"the Ray run failed: {type(error).__name__}: {text.splitlines()[0] if text else ''}")


def iter_ray(paths: list, address: str | None = None, num_actors: int | None = None,
             predict_kwargs: dict | None = None, keys: list[str] | None = None, verbose: bool = False,
             predictor_factory: Callable | None = None) -> Iterator[tuple[int, dict]]:
    """(index, result) pairs from Ray Data as its actors finish them (any order).

    Connects to the cluster at `address` ("auto": the one `ray start` made here), or starts a local
    instance when there is none; `num_actors` defaults to one per CPU of the cluster."""
    if not paths:
        return
    try:
        with _native_stderr_dropped(not verbose):
            dataset = _ray_dataset(paths, keys, address, num_actors, predict_kwargs, verbose, progress_bars=False,
                                   predictor_factory=predictor_factory)
            for row in dataset.iter_rows():
                yield int(row["index"]), json.loads(row["result"])
    except BatchError:
        raise
    except Exception as error:  # a Ray task error wraps the actor's own exception
        raise _ray_failure(error) from None


def parquet_done_keys(folder: str | os.PathLike) -> set[str]:
    """The input keys in the Parquet files of a results folder (files that cannot be read are skipped)."""
    import pyarrow.parquet as pq

    keys: set[str] = set()
    for file in sorted(Path(folder).glob("*.parquet")) if Path(folder).is_dir() else []:
        try:
            keys.update(k for k in pq.read_table(file, columns=["input_key"]).column(0).to_pylist() if k)
        except Exception:  # a file cut by a crash: its inputs are analysed again
            print(f"avemo: skipping unreadable {file}", file=sys.stderr)
    return keys


# -- the whole batch ------------------------------------------------------------------------------
def progress_bar(total: int, disable: bool = False):
    """A progress bar on standard error: clips done, clips/s and the time left."""
    from tqdm import tqdm

    return tqdm(total=total, desc="analysing", unit="clip", file=sys.stderr, disable=disable or total < 2,
                smoothing=0.1)


def run_batch(paths: list, *, engine: str = "local", workers: int | None = None, ray_address: str | None = None,
              predict_kwargs: dict | None = None, output: str | os.PathLike | None = None,
              output_format: str = "jsonl", on_result: Callable[[int, dict], None] | None = None,
              progress: bool = True, verbose: bool = False) -> BatchSummary:
    """Analyse `paths` with the chosen engine.

    With `output`, results are appended to it as they finish (JSONL), or written as Parquet files into
    the folder `output` (Ray engine), and inputs already there are skipped. Without it each result goes
    to `on_result(index, result)` as it finishes, `index` being the input's position in `paths`.
    `workers`: worker processes (local; 1 runs in this process) or Ray actors (default: one per CPU)."""
    if engine not in ("local", "ray"):
        raise BatchError(f"unknown engine {engine!r}")
    if output_format == "parquet":
        if engine != "ray" or output is None:
            raise BatchError("--output-format parquet needs --engine ray and --output FOLDER")
        return _run_ray_parquet(paths, ray_address, workers, predict_kwargs, Path(output), verbose)
    if output is not None and Path(output).is_dir():
        raise BatchError(f"--output {output} is a folder; JSONL output needs a file name")
    keys = [content_key(p) for p in paths] if output is not None else None
    done = done_keys(output) if output is not None else set()
    todo = [i for i in range(len(paths)) if keys is None or keys[i] not in done]
    summary = BatchSummary(total=len(paths), skipped=len(paths) - len(todo), analysed=0, errors=0)

    def deliver(index: int, result: dict) -> None:
        summary.analysed += 1
        summary.errors += result["error"] is not None
        if output is not None:
            append_result(output, result, keys[index])
        if on_result:
            on_result(index, result)
        bar.update()

    bar = progress_bar(len(todo), disable=not progress)
    try:
        if engine == "ray":
            chosen = [paths[i] for i in todo]
            for position, result in iter_ray(chosen, ray_address, workers, predict_kwargs,
                                             [keys[i] for i in todo] if keys else None, verbose):
                deliver(todo[position], result)
            return summary
        # Inputs that cannot be media are answered here, so an all-bad batch never loads the models.
        chosen = []
        for index in todo:
            problem = input_problem(paths[index])
            if problem:
                deliver(index, error_result(paths[index], problem))
            else:
                chosen.append(index)
        runs = (iter_parallel([paths[i] for i in chosen], workers, predict_kwargs) if (workers or 1) > 1
                else iter_serial([paths[i] for i in chosen], predict_kwargs))
        for position, result in runs:
            deliver(chosen[position], result)
        return summary
    finally:
        bar.close()


def _run_ray_parquet(paths, address, num_actors, predict_kwargs, folder: Path, verbose: bool) -> BatchSummary:
    if folder.exists() and not folder.is_dir():
        raise BatchError(f"--output {folder} is a file; Parquet output goes into a folder")
    keys = [content_key(p) for p in paths]
    done = parquet_done_keys(folder)
    todo = [i for i in range(len(paths)) if keys[i] not in done]
    summary = BatchSummary(total=len(paths), skipped=len(paths) - len(todo), analysed=0, errors=0)
    if not todo:
        return summary
    try:
        with _native_stderr_dropped(not verbose):
            dataset = _ray_dataset([paths[i] for i in todo], [keys[i] for i in todo], address, num_actors,
                                   predict_kwargs, verbose, progress_bars=True)
            dataset = dataset.materialize()  # analysed once; then written and counted
            dataset.drop_columns(["index"]).write_parquet(str(folder))
            errors = sum(1 for row in dataset.select_columns(["error"]).iter_rows() if row["error"])
    except BatchError:
        raise
    except Exception as error:
        raise _ray_failure(error) from None
    summary.analysed, summary.errors = len(todo), errors
    return summary


def run_ray(paths: list, address: str | None = None, num_actors: int | None = None,
            predict_kwargs: dict | None = None, output: str | os.PathLike | None = None,
            output_format: str = "jsonl", **options) -> BatchSummary:
    """The Ray Data engine: `run_batch(..., engine="ray")`."""
    return run_batch(paths, engine="ray", workers=num_actors, ray_address=address, predict_kwargs=predict_kwargs,
                     output=output, output_format=output_format, **options)


class InOrder:
    """An `on_result` that passes results on to `emit` in input order, each as soon as its turn comes."""

    def __init__(self, emit: Callable[[dict], None], start: int = 0):
        self.emit, self.next, self.waiting = emit, start, {}

    def __call__(self, index: int, result: dict) -> None:
        self.waiting[index] = result
        while self.next in self.waiting:
            self.emit(self.waiting.pop(self.next))
            self.next += 1
