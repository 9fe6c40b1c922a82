"""Keras models exported to ONNX, for the light runtime inference runs on (avemo.runtime). Training's side:
this module imports TensorFlow, Keras and tf2onnx (requirements-train.txt).

    save_and_export(model, folder / "model.keras")   # what avemo.models.save_model_folder does for each model
    export_folder(Path("weights/audio"))             # every .keras of a folder whose export is missing or stale
    python -m avemo.onnx_export weights/audio weights/video

Each export is checked before it is written: its outputs on a probe batch must equal the Keras model's
within EXPORT_TOLERANCE, or ExportError says by how much they differ. It records the sha256 of the .keras
file it comes from (avemo.runtime.SOURCE_SHA256), so that loading a folder can refuse an export that a
retrained model has left behind (avemo.models.load_model_folder).

tf2onnx has no conversion for TensorFlow's Erfinv (the functionals expert's NormalQuantiles layer needs it),
and ONNX has no such operator: `_erfinv` writes it out of ONNX operators, as TensorFlow computes it (Eigen's
ndtri, Cephes's rational approximations, in float32), so the exported expert agrees with Keras to float32
rounding.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from avemo.backend import import_tensorflow
from avemo.runtime import KERAS_NAME, SOURCE_SHA256, OnnxModel, file_sha256, onnx_session

tf = import_tensorflow()  # quietly, before Keras and tf2onnx (see avemo.backend)
import keras  # noqa: E402

OPSET = 17
EXPORT_TOLERANCE = 1e-4  # max abs difference of the export's outputs (logits) from the Keras model's


class ExportError(Exception):
    """A model could not be exported faithfully; the message says why."""


def onnx_path(keras_path: Path) -> Path:
    return Path(keras_path).with_suffix(".onnx")


# -- Erfinv in ONNX operators ----------------------------------------------------------------------
# Cephes's ndtri coefficients, highest power first, as Eigen (and so TensorFlow) evaluates them.
_NDTRI_CENTRAL = (
    (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1, 1.39312609387279679503e1,
     -1.23916583867381258016e0),
    (1.0, 1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1, -2.25462687854119370527e2,
     2.00260212380060660359e2, -8.20372256168333339912e1, 1.59056225126211695515e1, -1.18331621121330003142e0))
_NDTRI_TAIL_UNDER_8 = (
    (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1, 4.40805073893200834700e1,
     1.46849561928858024014e1, 2.18663306850790267539e0, -1.40256079171354495875e-1, -3.50424626827848203418e-2,
     -8.57456785154685413611e-4),
    (1.0, 1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1, 1.50425385692907503408e1,
     2.50464946208309415979e0, -1.42182922854787788574e-1, -3.80806407691578277194e-2, -9.33259480895457427372e-4))
_NDTRI_TAIL_OVER_8 = (
    (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0, 1.33303460815807542389e0,
     2.01485389549179081538e-1, 1.23716634817820021358e-2, 3.01581553508235416007e-4, 2.65806974686737550832e-6,
     6.23974539184983293730e-9),
    (1.0, 6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0, 2.16236993594496635890e-1,
     1.34204006088543189037e-2, 3.28014464682127739104e-4, 2.89247864745380683936e-6, 6.79019408009981274425e-9))
_EXP_NEG_TWO = 0.13533528323661269189


def _erfinv(ctx, node, name, args):
    """tf2onnx handler: Erfinv(x) = ndtri((x + 1) / 2) / sqrt(2), ndtri as Eigen computes it: a rational function
    of (p - 1/2)^2 in the middle, of 1 / sqrt(-2 log p) in the tails (p or 1 - p under exp(-2))."""
    from tf2onnx import utils

    def const(value):
        return ctx.make_const(utils.make_name(f"{name}_c"), np.array(value, np.float32)).output[0]

    def op(kind, *inputs):
        return ctx.make_node(kind, list(inputs), op_name_scope=name).output[0]

    def rational(x, coefficients):
        numerator, denominator = ([const(c[0])] for c in coefficients)
        for polynomial, c in zip((numerator, denominator), coefficients):
            for k in c[1:]:  # Horner's rule, a multiply then an add (no fused multiply-add, as TensorFlow's wheel)
                polynomial[0] = op("Add", op("Mul", polynomial[0], x), const(k))
        return op("Div", numerator[0], denominator[0])

    one, half = const(1.0), const(0.5)
    p = op("Add", op("Mul", half, node.input[0]), half)
    lower = op("LessOrEqual", p, const(1.0 - np.float32(_EXP_NEG_TWO)))
    b = op("Where", lower, p, op("Sub", one, p))  # the tail's own probability, under 1/2
    c = op("Sub", b, half)
    c2 = op("Mul", c, c)
    central = op("Mul", op("Add", op("Mul", c, op("Mul", c2, rational(c2, _NDTRI_CENTRAL))), c),
                 const(2.50662827463100050242))
    t = op("Sqrt", op("Mul", const(-2.0), op("Log", b)))
    z = op("Div", one, t)
    correction = op("Mul", z, op("Where", op("Less", t, const(8.0)), rational(z, _NDTRI_TAIL_UNDER_8),
                                 rational(z, _NDTRI_TAIL_OVER_8)))
    tail = op("Sub", op("Sub", t, op("Div", op("Log", t), t)), correction)
    tail = op("Where", lower, op("Neg", tail), tail)
    ndtri = op("Where", op("Less", const(_EXP_NEG_TWO), b), central, tail)
    ndtri = op("Where", op("Equal", p, const(0.0)), const(-np.inf), op("Where", op("Equal", p, one), const(np.inf), ndtri))
    ctx.replace_inputs(node, [op("Mul", ndtri, const(np.sqrt(0.5)))])
    node.type = "Identity"


# -- one model ---------------------------------------------------------------------------------------
def _probe(model, rng: np.random.Generator) -> list[np.ndarray]:
    """A batch for comparing the export with the model: 3 rows, 5 steps where time is open, normal values;
    `frame_weights` (the video model's) non-negative rows summing to 1."""
    batch = []
    for tensor in model.inputs:
        shape = [3] + [5 if d is None else d for d in tensor.shape[1:]]
        x = rng.normal(size=shape).astype(np.float32)
        if "weights" in tensor.name:
            x = np.abs(x) / np.abs(x).sum(axis=-1, keepdims=True)
        batch.append(x)
    return batch


def keras_outputs(model, inputs: list[np.ndarray]) -> np.ndarray:
    return np.asarray(model(inputs if len(inputs) > 1 else inputs[0], training=False))


def export_keras(model, path: Path, source_sha256: str = "") -> Path:
    """Write `model` (a Keras model) as an ONNX file at `path`, every dimension Keras leaves open left open,
    after checking it against the model on a probe batch. Raises ExportError."""
    import onnx
    import tf2onnx

    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    signature = [tf.TensorSpec((None, *tensor.shape[1:]), tf.float32, name=tensor.name) for tensor in model.inputs]
    function = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False),
                           input_signature=signature, autograph=False)
    # Frozen first: tf2onnx's own from_function takes the constants a layer captures (a Normalization layer's
    # mean and variance) for inputs of the graph.
    frozen = convert_variables_to_constants_v2(function.get_concrete_function(), lower_control_flow=False)
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(), input_names=[t.name for t in frozen.inputs],
            output_names=[t.name for t in frozen.outputs], opset=OPSET, custom_op_handlers={"Erfinv": (_erfinv, [])})
    except Exception as error:  # tf2onnx raises whatever its converters raise
        raise ExportError(f"{model.name}: tf2onnx failed ({type(error).__name__}: {error})") from error
    onnx.helper.set_model_props(proto, {KERAS_NAME: model.name, SOURCE_SHA256: source_sha256})
    data = proto.SerializeToString()
    probe = _probe(model, np.random.default_rng(0))
    try:
        session = onnx_session(data)
        exported = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), probe)})[0]
    except Exception as error:  # an operator ONNX Runtime does not know
        raise ExportError(f"{model.name}: ONNX Runtime refuses the export ({error})") from error
    difference = float(np.max(np.abs(exported - keras_outputs(model, probe))))
    if not difference <= EXPORT_TOLERANCE:
        raise ExportError(f"{model.name}: the export differs from the Keras model by {difference:.2g}")
    Path(path).write_bytes(data)
    return Path(path)


def save_and_export(model, keras_path: Path) -> None:
    """Save a Keras model and its ONNX export beside it (same name, .onnx)."""
    model.save(keras_path)
    export_keras(model, onnx_path(keras_path), file_sha256(keras_path))


# -- folders ---------------------------------------------------------------------------------------
def load_keras(path: Path):
    """A saved Keras model, in safe mode, with avemo's own layers registered."""
    from avemo.audio import layers  # noqa: F401  (registers avemo's audio layers)
    from avemo.face import networks  # noqa: F401  (and the face's)

    return keras.saving.load_model(path, compile=False)


def is_current(keras_path: Path) -> bool:
    """Whether the .onnx beside a .keras file was exported from that very file."""
    exported = onnx_path(keras_path)
    if not exported.is_file():
        return False
    return OnnxModel.load(exported).metadata.get(SOURCE_SHA256) == file_sha256(keras_path)


def export_folder(folder: Path, force: bool = False, out=print) -> list[Path]:
    """Export every .keras model of a folder whose ONNX file is missing or was exported from another file."""
    written = []
    for keras_path in sorted(Path(folder).glob("*.keras")):
        if not force and is_current(keras_path):
            out(f"{keras_path}: its export is current")
            continue
        written.append(export_keras(load_keras(keras_path), onnx_path(keras_path), file_sha256(keras_path)))
        out(f"{keras_path} -> {written[-1]} ({written[-1].stat().st_size / 1e6:.1f} MB)")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export each Keras model of model folders to ONNX, beside it.")
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--force", action="store_true", help="export again even where the export is current")
    args = parser.parse_args(argv)
    try:
        for folder in args.folders:
            export_folder(folder, args.force)
    except ExportError as error:
        print(f"avemo.onnx_export: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
