"""avemo's own Keras layers, registered so that a saved model loads in Keras's safe mode.

Importing this module registers them; `avemo.models` imports it before building or loading.
"""
from __future__ import annotations

from .backend import import_tensorflow

import_tensorflow()  # quietly, before Keras (see avemo.backend)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402


def dct_basis(n_bins: int, n_coefficients: int) -> np.ndarray:
    """(n_bins, n_coefficients) matrix: frames @ basis == scipy.fft.dct(frames, norm="ortho")[:, :n],
    i.e. log-mel frames -> MFCCs."""
    import scipy.fft

    return scipy.fft.dct(np.eye(n_bins), axis=0, norm="ortho").T[:, :n_coefficients].astype(np.float32)


@keras.saving.register_keras_serializable(package="avemo")
class UtteranceStatistics(keras.layers.Layer):
    """Per-window summary of the speech frames: mean and standard deviation of each cepstral
    coefficient, and the standard deviation of its frame-to-frame change.

    These are the classic clip-level features of speech emotion recognition (spectral shape, its
    variability, how fast it moves). Padding frames (every bin equal to `pad_value`: the silence a
    short clip is padded with) are left out, so a 1 s clip is summarised over its 1 s of speech.
    With `n_coefficients` set, input log-mel frames are first turned into MFCCs (a fixed DCT);
    with None, the input frames are used as they are (they already are MFCCs).
    """

    def __init__(self, n_coefficients: int | None = 40, pad_value: float = -1.0, **kwargs):
        super().__init__(**kwargs)
        self.n_coefficients = n_coefficients
        self.pad_value = pad_value

    def build(self, input_shape):
        n_bins = int(input_shape[-1])
        # A fixed transform, rebuilt from the config on loading: nothing to train, nothing to store.
        self.basis = None if self.n_coefficients is None else ops.convert_to_tensor(
            dct_basis(n_bins, self.n_coefficients))

    def call(self, frames):
        is_speech = ops.cast(ops.max(ops.abs(frames - self.pad_value), axis=-1) > 1e-6, frames.dtype)
        coefficients = frames if self.basis is None else ops.matmul(frames, self.basis)
        mean, std = _masked_moments(coefficients, is_speech)
        deltas = coefficients[:, 1:] - coefficients[:, :-1]
        _, delta_std = _masked_moments(deltas, is_speech[:, 1:] * is_speech[:, :-1])
        return ops.concatenate([mean, std, delta_std], axis=-1)

    def compute_output_shape(self, input_shape):
        n = int(input_shape[-1]) if self.n_coefficients is None else self.n_coefficients
        return (input_shape[0], 3 * n)

    def get_config(self):
        return {**super().get_config(), "n_coefficients": self.n_coefficients, "pad_value": self.pad_value}


def _masked_moments(values, mask):
    """Mean and standard deviation over axis 1 of (batch, time, features), counting only mask == 1."""
    weights = mask[..., None]
    count = ops.maximum(ops.sum(weights, axis=1), 1.0)
    mean = ops.sum(values * weights, axis=1) / count
    variance = ops.sum(ops.square(values - mean[:, None, :]) * weights, axis=1) / count
    return mean, ops.sqrt(variance + 1e-8)
