"""The ONNX graph of Whisper's encoder, without its weights: what avemo.audio.speech_encoder runs on ONNX Runtime.

    python -m avemo.audio.whisper_graph      # writes avemo/audio/whisper_graphs/<encoder>.onnx (needs onnx)

Each graph names its weights as `encoder_weights` names them and marks them external: at load, the weights
read from the pinned CTranslate2 file are handed to ONNX Runtime as they lie in memory
(SessionOptions.add_external_initializers), so the bundled graph is some 15 KB, the weights are never copied
into a model file, and inference needs no `onnx` package. The graph computes what Whisper's encoder does:
two convolutions (GELU), positions added, pre-norm transformer layers, a final layer norm; its output is every
hidden state stacked, (n_layers + 2, n_frames / 2, width).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avemo.audio.speech_encoder import ENCODERS, GRAPHS_DIR, WHISPER_N_MELS, encoder_bytes, encoder_weights, read_ctranslate2

OPSET = 17


def encoder_graph(weights: dict[str, np.ndarray], n_heads: int, name: str):
    """The encoder's ModelProto for weights named and shaped as `encoder_weights` gives them."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, initialisers = [], []
    for key, array in weights.items():  # declared with their shapes; their data comes at load
        tensor = TensorProto(name=key, data_type=TensorProto.FLOAT, dims=array.shape,
                             data_location=TensorProto.EXTERNAL)
        tensor.external_data.add(key="location", value="supplied at load")
        initialisers.append(tensor)
    count = 0

    def op(kind, *inputs, **attributes):
        nonlocal count
        count += 1
        nodes.append(helper.make_node(kind, list(inputs), [f"t{count}"], **attributes))
        return f"t{count}"

    def const(value, dtype=np.float32):
        nonlocal count
        count += 1
        initialisers.append(numpy_helper.from_array(np.asarray(value, dtype), f"c{count}"))
        return f"c{count}"

    def gelu(x):  # exact, with erf, as Whisper was trained
        return op("Mul", op("Mul", x, const(0.5)), op("Add", const(1.0), op("Erf", op("Mul", x, const(np.sqrt(0.5))))))

    def norm(x, layer):
        return op("LayerNormalization", x, f"{layer}/gamma", f"{layer}/beta", axis=-1, epsilon=1e-5)

    def linear(x, layer):
        return op("Add", op("MatMul", x, f"{layer}/weight"), f"{layer}/bias")

    width = weights["conv1/bias"].shape[0]
    head = width // n_heads
    n_layers = sum(1 for key in weights if key.endswith("self_attention/linear_0/weight"))
    x = op("Unsqueeze", op("Transpose", "mel", perm=[1, 0]), const([0], np.int64))  # (1, mels, frames)
    for conv, stride in (("conv1", 1), ("conv2", 2)):  # PyTorch's padding=1 on both sides
        x = gelu(op("Conv", x, f"{conv}/weight", f"{conv}/bias", pads=[1, 1], strides=[stride]))
    x = op("Transpose", op("Squeeze", x, const([0], np.int64)), perm=[1, 0])  # (frames / 2, width)
    positions = op("Slice", "position_encodings/encodings", const([0], np.int64), op("Shape", x, start=0, end=1),
                   const([0], np.int64))
    states = [op("Add", x, positions)]
    x = states[0]
    for i in range(n_layers):
        layer = f"layer_{i}"
        qkv = linear(norm(x, f"{layer}/self_attention/layer_norm"), f"{layer}/self_attention/linear_0")
        split = op("Transpose", op("Reshape", qkv, const([-1, 3, n_heads, head], np.int64)), perm=[1, 2, 0, 3])
        q, k, v = (op("Gather", split, const(part, np.int64), axis=0) for part in range(3))  # (heads, frames, head)
        scores = op("Div", op("MatMul", q, op("Transpose", k, perm=[0, 2, 1])), const(np.sqrt(head)))
        mixed = op("MatMul", op("Softmax", scores, axis=-1), v)
        mixed = op("Reshape", op("Transpose", mixed, perm=[1, 0, 2]), const([-1, width], np.int64))
        x = op("Add", x, linear(mixed, f"{layer}/self_attention/linear_1"))
        hidden = gelu(linear(norm(x, f"{layer}/ffn/layer_norm"), f"{layer}/ffn/linear_0"))
        x = op("Add", x, linear(hidden, f"{layer}/ffn/linear_1"))
        states.append(x)
    states.append(norm(x, "layer_norm"))
    stacked = op("Concat", *(op("Unsqueeze", state, const([0], np.int64)) for state in states), axis=0)
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("mel", TensorProto.FLOAT,
                                                                          ["frames", WHISPER_N_MELS])],
                              [helper.make_tensor_value_info(stacked, TensorProto.FLOAT, None)], initialisers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="avemo")
    model.ir_version = 8  # what onnxruntime 1.22 reads
    return model


def graph_bytes(name: str) -> bytes:
    """The serialised graph of a pinned encoder (read from its installed file for the weights' shapes)."""
    variables = read_ctranslate2(encoder_bytes(name))
    return encoder_graph(encoder_weights(variables), int(variables["num_heads"]), name).SerializeToString()


def main() -> None:
    GRAPHS_DIR.mkdir(exist_ok=True)
    for name in ENCODERS:
        path = GRAPHS_DIR / f"{name}.onnx"
        path.write_bytes(graph_bytes(name))
        print(f"{path} ({path.stat().st_size / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
