"""avemo: audio-visual emotion recognition.

    import avemo
    result = avemo.predict("clip.mp4")   # see avemo.predict for the result's shape
"""
from .config import EMOTIONS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "predict", "Predictor"]


def __getattr__(name: str):
    # Importing avemo stays cheap (no TensorFlow) until a prediction is asked for.
    if name in ("predict", "Predictor"):
        from . import predict as _predict_module

        return getattr(_predict_module, name)
    raise AttributeError(name)
