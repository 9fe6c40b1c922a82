"""Saving and loading scikit-learn models with skops instead of pickle.

Loading a skops file builds only the types it lists, and only scikit-learn's (and numpy's plain array
types) are trusted here, so a model folder downloaded from the Hub cannot run code when it is loaded.
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

TRUSTED_MODULE_PREFIXES = ("sklearn.",)


def save_sklearn(model, path: Path) -> None:
    import skops.io

    skops.io.dump(model, Path(path))


def load_sklearn(path: Path, what: str = "model"):
    """The scikit-learn object in `path`, or None (with a warning) if it holds other types or is unreadable."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
        foreign = [name for name in untrusted if not name.startswith(TRUSTED_MODULE_PREFIXES)]
        if foreign:
            log.warning("%s holds types outside scikit-learn (%s): the %s is not loaded",
                        path, ", ".join(foreign), what)
            return None
        return skops.io.load(path, trusted=untrusted)
    except Exception as error:  # a corrupt or foreign file: the caller goes on without it
        log.warning("%s could not be read (%s): the %s is not loaded", path, error, what)
        return None


def is_fitted_classifier(model, n_classes: int) -> bool:
    """Whether `model` is a fitted probabilistic classifier over (a subset of) classes 0..n_classes-1."""
    import numpy as np

    classes = np.asarray(getattr(model, "classes_", []))
    return (hasattr(model, "predict_proba") and bool(classes.size)
            and bool(np.isin(classes, np.arange(n_classes)).all()))
