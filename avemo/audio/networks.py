"""The audio model's Keras networks: the frame CNN, the statistics head, the clip-level linear heads and
the descriptor expert, and their combination into one model (a product of experts). Saved and loaded as
model folders (avemo.models)."""
from __future__ import annotations

from avemo.backend import import_tensorflow
from avemo.config import EMOTIONS

import_tensorflow()  # before any Keras import below: quietly (see avemo.backend)


def conv_block(x, filters: int, pool: tuple[int, int], name: str):
    """Conv 3x3 -> batch norm -> ReLU -> max pool."""
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # Momentum 0.9 rather than Keras's 0.99: with few steps per epoch the slow moving averages
    # lag the weights, and the model collapses to one class at inference (measured).
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    # No spatial dropout here: it halved how fast the network learned (measured); this small CNN
    # generalises best when it learns fast (see avemo.audio.training.AudioTrainingConfig).
    return layers.MaxPooling2D(pool, name=f"{name}_pool")(x)


def build_audio_cnn(n_frames: int, n_bins: int, n_classes: int = len(EMOTIONS),
                    filters: tuple[int, ...] = (16, 32, 64, 128), dropout: float = 0.0,
                    name: str = "avemo_audio_cnn"):
    """2-D CNN over (time, frequency) frames, global average pooling, outputs logits.

    The convolutions see the time axis (how pitch and energy move), unlike a clip-average
    MFCC vector; global pooling makes the model tolerant to where speech sits in a window.
    """
    import keras
    from keras import layers

    inputs = keras.Input((n_frames, n_bins), name="frames")
    x = layers.Reshape((n_frames, n_bins, 1))(inputs)
    for i, f in enumerate(filters):
        x = conv_block(x, f, pool=(2, 2), name=f"block{i + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(128, activation="relu", name="embedding")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_statistics_head(n_frames: int, n_bins: int, n_coefficients: int | None, pad_value: float,
                          n_classes: int = len(EMOTIONS), l2: float = 0.01):
    """Multinomial logistic regression on a window's utterance statistics (avemo.audio.layers), outputs logits.

    It sees what the CNN's pooled convolutions blur: the global spectral shape and its variability.
    Its standardisation layer must be adapted to the training statistics before fitting.
    """
    import keras
    from keras import layers

    from avemo.audio.layers import UtteranceStatistics

    inputs = keras.Input((n_frames, n_bins), name="frames")
    x = UtteranceStatistics(n_coefficients, pad_value, name="statistics")(inputs)
    x = layers.Normalization(name="standardise")(x)
    outputs = layers.Dense(n_classes, kernel_regularizer=keras.regularizers.L2(l2), name="logits")(x)
    return keras.Model(inputs, outputs, name="avemo_audio_statistics")


def build_linear_head(n_features: int, n_quantiles: int | None, name: str, input_name: str,
                      n_classes: int = len(EMOTIONS)):
    """Multinomial logistic regression on one clip-level feature vector, outputs logits: the functionals
    expert (openSMILE functionals, avemo.audio.functionals, each first mapped onto a normal distribution
    through its training quantiles) and the speech expert (Whisper encoder statistics,
    avemo.audio.speech_encoder; `n_quantiles` None: standardised only). Fitted by scikit-learn
    (avemo.audio.training.train_linear_head), stored as Keras weights."""
    import keras
    from keras import layers

    from avemo.audio.layers import NormalQuantiles

    inputs = keras.Input((n_features,), name=input_name)
    x = NormalQuantiles(n_quantiles, name="quantiles")(inputs) if n_quantiles else inputs
    x = layers.Normalization(name="standardise")(x)
    outputs = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_descriptors_model(window_frames: int, n_descriptors: int, filters: tuple[int, ...] = (64, 128, 128),
                            kernel: int = 5, noise: float = 0.1, dropout: float = 0.4):
    """The descriptor expert: a 1-D CNN over a window of openSMILE low-level descriptors (one row
    every 10 ms: loudness, pitch, voicing, jitter, shimmer, spectral shape, MFCCs), then the mean and
    standard deviation over the window's real rows (padding left out); outputs logits.

    The descriptors are standardised inside the model (statistics set from the training rows), and
    during training jittered with Gaussian noise of `noise` standard deviations."""
    import keras
    from keras import layers

    from avemo.audio.functionals import DESCRIPTOR_PAD
    from avemo.audio.layers import MaskedStatisticsPooling, ZeroPadding

    inputs = keras.Input((window_frames, n_descriptors), name="descriptors")
    x = layers.Normalization(name="standardise")(inputs)
    x = ZeroPadding(DESCRIPTOR_PAD, name="zero_padding")([x, inputs])
    x = layers.GaussianNoise(noise, name="noise")(x)
    for i, width in enumerate(filters):
        x = layers.Conv1D(width, kernel, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"conv{i}_bn")(x)
        x = layers.ReLU(name=f"conv{i}_relu")(x)
    x = MaskedStatisticsPooling(DESCRIPTOR_PAD, name="pooling")([x, inputs])
    x = layers.Dropout(dropout, name="pooled_dropout")(x)
    x = layers.Dense(128, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout, name="hidden_dropout")(x)
    outputs = layers.Dense(len(EMOTIONS), name="logits")(x)
    return keras.Model(inputs, outputs, name="avemo_audio_descriptors")


def combine_audio_models(*parts):
    """One model from frame models of the same input (the CNN ensemble's members, the statistics head):
    the mean of their log-probabilities (a product of experts). Its outputs are logits like each part's,
    so inference and calibration are unchanged. The parts need distinct names."""
    import keras
    from keras import layers

    inputs = keras.Input(parts[0].input_shape[1:], name="frames")
    log_probs = [layers.Activation("log_softmax", name=f"{part.name}_log_probs")(part(inputs)) for part in parts]
    return keras.Model(inputs, layers.Average(name="logits")(log_probs), name="avemo_audio")
