"""The face's Keras networks: the LRCNs of a video model folder (a per-frame CNN, then a temporal part over a
window's frames), built for training (train/video.py, train/face_backbone.py) and registered for loading a
saved one. Inference runs their ONNX exports (avemo.face.video.VideoAnalyzer), without this module.

The models take two inputs per window: `frames` (batch, T, 64, 64, 1) face crops in [-1, 1] and
`frame_weights` (batch, T), each row non-negative and summing to 1 (a frame without a face has weight 0);
they output logits. Two models share that interface: `build_pooling_model` (the pretrained FER2013 frame CNN
and a parameter-free, weighted mean of per-frame log-probabilities) and `build_temporal_model` (the same frame
CNN and a trained recurrent head).
"""
from __future__ import annotations

from avemo.backend import import_tensorflow

import_tensorflow()  # quietly, before Keras (see avemo.backend)
import keras  # noqa: E402
from keras import layers  # noqa: E402

from avemo.config import EMOTIONS, VIDEO_FEATURES, VideoFeatureConfig  # noqa: E402
from avemo.face.video import FER_CLASSES, POOLING_MODEL_NAME  # noqa: E402


@keras.saving.register_keras_serializable(package="avemo")
class FramewiseDistributed(keras.layers.TimeDistributed):
    """TimeDistributed that folds time into the batch: one call of the wrapped layer on all
    (batch x time) frames instead of Keras's one call per time step (much slower on CPU).
    Registered with Keras, so a saved model using it loads in safe mode once this module is imported."""

    def call(self, inputs, training=None, mask=None):
        shape = keras.ops.shape(inputs)
        flat = keras.ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        out = self.layer(flat, training=training)
        return keras.ops.reshape(out, (shape[0], shape[1]) + tuple(out.shape[1:]))


def backbone_parts(backbone):
    """(frame logits model, frame embedding model) from the FER2013 mini-Xception.

    `backbone` is the released network (ending in global average pooling and a softmax) or the
    frame CNN of a saved avemo video model (the same network without the softmax). The logits
    model stops before any softmax. The embedding model gives the 128-channel feature map before
    the last convolution, averaged over space, concatenated with the 7 logits (135 values per frame).
    """
    last = backbone.layers[-1]
    is_softmax = isinstance(last, layers.Activation) and "softmax" in str(last.get_config().get("activation"))
    logits = last.input if is_softmax else backbone.outputs[0]
    logits_model = keras.Model(backbone.inputs, logits, name="fer_frame_logits")
    last_conv = next(l for l in reversed(backbone.layers) if isinstance(l, layers.Conv2D))
    pooled = layers.GlobalAveragePooling2D(name="fer_feature_pool")(last_conv.input)
    embedding = layers.Concatenate(name="fer_embedding")([pooled, logits])
    embed_model = keras.Model(backbone.inputs, embedding, name="fer_frame_embedding")
    return logits_model, embed_model


def frame_cnn(model):
    """The per-frame network inside a video LRCN built here (the layer named "frame_cnn")."""
    return model.get_layer("frame_cnn").layer


def _lrcn_inputs(crop_size: int):
    frames = keras.Input((None, crop_size, crop_size, 1), name="frames")
    weights = keras.Input((None,), name="frame_weights")
    return frames, weights


def _weighted_mean_over_frames(per_frame, weights, n_classes: int, name: str):
    """sum_t weights[:, t] * per_frame[:, t, :], with built-in layers only (safe-mode loadable)."""

    w = layers.Reshape((-1, 1), name=f"{name}_weights")(weights)
    pooled = layers.Dot(axes=1, name=name)([w, per_frame])  # (batch, 1, n_classes)
    return layers.Reshape((n_classes,), name="logits")(pooled)


def build_pooling_model(backbone, cfg: VideoFeatureConfig = VIDEO_FEATURES):
    """The shipped LRCN: TimeDistributed(FER2013 CNN) -> per-frame log-probabilities -> their
    weighted mean over the window's frames (no trained temporal parameters). Outputs logits
    (a normalised geometric mean of the frame probabilities after softmax) in POOLING_LABELS order.
    """

    frame_logits, _ = backbone_parts(backbone)
    frames, weights = _lrcn_inputs(cfg.crop_size)
    per_frame = FramewiseDistributed(frame_logits, name="frame_cnn")(frames)
    log_probs = layers.Activation("log_softmax", name="frame_log_probs")(per_frame)
    logits = _weighted_mean_over_frames(log_probs, weights, len(FER_CLASSES), "quality_weighted_mean")
    return keras.Model([frames, weights], logits, name=POOLING_MODEL_NAME)


def build_temporal_head(embedding_size: int, n_classes: int = len(EMOTIONS), units: int = 32,
                        dropout: float = 0.3):
    """The trainable temporal part: per-frame projection, a bidirectional GRU over the window's
    frames, per-frame class logits, and their weighted mean over frames (weights as the model's)."""

    embeddings = keras.Input((None, embedding_size), name="frame_embeddings")
    weights = keras.Input((None,), name="frame_weights")
    x = layers.Dropout(dropout, name="head_input_dropout")(embeddings)
    x = layers.Dense(64, activation="relu", name="frame_projection")(x)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True), name="temporal_gru")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    per_frame = layers.Dense(n_classes, name="frame_logits")(x)
    logits = _weighted_mean_over_frames(per_frame, weights, n_classes, "weighted_mean")
    return keras.Model([embeddings, weights], logits, name="temporal_head")


def build_temporal_model(backbone, head, cfg: VideoFeatureConfig = VIDEO_FEATURES):
    """The trained LRCN: TimeDistributed(FER2013 embedding CNN) -> `head` (built above)."""

    _, embed = backbone_parts(backbone)
    frames, weights = _lrcn_inputs(cfg.crop_size)
    per_frame = FramewiseDistributed(embed, name="frame_cnn")(frames)
    return keras.Model([frames, weights], head([per_frame, weights]), name="avemo_video_lrcn_trained")
