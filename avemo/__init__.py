"""avemo: audio-visual emotion recognition.

    import avemo
    result = avemo.predict("clip.mp4")   # see avemo.predict for the result's shape

Importing avemo is cheap: ONNX Runtime, mediapipe and openSMILE load only when a model is first needed, and
TensorFlow never (it trains the models; inference runs their ONNX exports).
"""
from avemo.config import EMOTIONS
from avemo.predict import Predictor, predict

__version__ = "0.9.0"
__all__ = ["EMOTIONS", "Predictor", "predict"]
