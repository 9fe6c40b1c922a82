"""avemo's Gradio app (also a Hugging Face Space entry point): `python app.py`, then open the printed URL.

The page and its API live in avemo/app/page.py; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT set the address.
"""
import logging

from avemo.backend import filter_native_logs
from avemo.app.page import build_demo, launch_options

filter_native_logs()  # TensorFlow's and mediapipe's C++ notices stay out of the Space's log
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)
demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_options())
