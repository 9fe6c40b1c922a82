"""avemo's own Keras layers, registered so that a saved model loads in Keras's safe mode.

Importing this module registers them; avemo.audio.networks imports it to build a model, and
avemo.onnx_export.load_keras before loading one (inference runs the models' ONNX exports instead).
"""
from __future__ import annotations

from avemo.backend import import_tensorflow

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
        is_speech = padding_mask(frames, self.pad_value)
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


# scikit-learn's QuantileTransformer: values this close to the lowest (highest) training quantile
# map to probability 0 (1), and probabilities are kept this far from 0 and 1 before the inverse CDF.
QUANTILE_BOUND = 1e-7
NORMAL_BOUND = 5.199337582605575  # scipy.stats.norm.ppf(1 - QUANTILE_BOUND): where the outputs are clipped


@keras.saving.register_keras_serializable(package="avemo")
class NormalQuantiles(keras.layers.Layer):
    """Each feature mapped onto a standard normal through its training distribution: a value's
    quantile among the training values (linear between the stored quantiles), then the normal
    inverse CDF. This is scikit-learn's QuantileTransformer(output_distribution="normal") in Keras,
    so a regression fitted on its output can ship as a safe-mode Keras model with no pickle.

    Functionals are heavy-tailed (jitter, shimmer, spectral flux): ranks weigh one loud or breathy
    clip no more than any other, where standardising lets it dominate a feature's scale.
    `quantiles` is (n_quantiles, n_features), each column ascending (the transformer's `quantiles_`).
    """

    def __init__(self, n_quantiles: int, **kwargs):
        super().__init__(**kwargs)
        self.n_quantiles = n_quantiles

    def build(self, input_shape):
        self.quantiles = self.add_weight(shape=(self.n_quantiles, int(input_shape[-1])), initializer="zeros",
                                         trainable=False, name="quantiles")

    def call(self, values):
        quantiles, last = self.quantiles, self.n_quantiles - 1
        # The value's rank among the quantiles, linear between neighbours: each step between two
        # neighbouring quantiles adds how much of it lies below the value (a sum rather than a gather:
        # 1 ms against 9 ms a call). A step of zero width (tied quantiles) adds 1 below the value, 0 above
        # and 1/2 at it, so a value at a run of ties takes the middle of the run, as scikit-learn's mean of a
        # forward and a backward interpolation does.
        start, width = quantiles[None, :-1], (quantiles[1:] - quantiles[:-1])[None]
        column = values[:, None, :]
        tied_step = ops.where(column > start, 1.0, ops.where(column == start, 0.5, 0.0))
        linear_step = ops.clip((column - start) / ops.where(width > 0, width, 1.0), 0.0, 1.0)
        rank = ops.sum(ops.where(width > 0, linear_step, tied_step), axis=1)
        probability = rank / float(last)
        # The bounds as scikit-learn tests them, in the input's float32 arithmetic (3 + 1e-7 == 3 there),
        # and their normal values set outright: float32's erfinv is off by 0.03 that close to +-1.
        at_top = (values + QUANTILE_BOUND > quantiles[-1]) | (probability >= 1.0 - QUANTILE_BOUND)
        at_bottom = (values - QUANTILE_BOUND < quantiles[0]) | (probability <= QUANTILE_BOUND)
        probability = ops.clip(probability, QUANTILE_BOUND, 1.0 - QUANTILE_BOUND)
        normal = np.sqrt(2.0) * ops.erfinv(2.0 * probability - 1.0)
        normal = ops.where(at_top, NORMAL_BOUND, normal)
        return ops.where(at_bottom, -NORMAL_BOUND, normal)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "n_quantiles": self.n_quantiles}


class _PaddingAware(keras.layers.Layer):
    """A layer called on [features (batch, time, channels), frames (batch, time, inputs)] that finds
    the padding in `frames`: a frame whose every input equals `pad_value` (a short clip's window)."""

    def __init__(self, pad_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.pad_value = pad_value

    def get_config(self):
        return {**super().get_config(), "pad_value": self.pad_value}


@keras.saving.register_keras_serializable(package="avemo")
class MaskedStatisticsPooling(_PaddingAware):
    """Mean and standard deviation over time of per-frame features, counting only the frames that
    are not padding."""

    def call(self, inputs):
        features, frames = inputs
        mean, std = _masked_moments(features, padding_mask(frames, self.pad_value))
        return ops.concatenate([mean, std], axis=-1)

    def compute_output_shape(self, input_shape):
        features_shape, _ = input_shape
        return (features_shape[0], 2 * features_shape[-1])


@keras.saving.register_keras_serializable(package="avemo")
class ZeroPadding(_PaddingAware):
    """Per-frame features with the padding frames set to zero."""

    def call(self, inputs):
        features, frames = inputs
        return features * padding_mask(frames, self.pad_value)[..., None]

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def padding_mask(frames, pad_value: float):
    """(batch, time): 1 for a real frame, 0 for a padding frame (every value equal to pad_value)."""
    return ops.cast(ops.max(ops.abs(frames - pad_value), axis=-1) > 1e-6, frames.dtype)
