"""avemo's Gradio app (also a Hugging Face Space entry point): `python app.py`, then open the printed URL.

The page and its API live in avemo/app/page.py; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT set the address.
"""
import logging
import signal

from avemo.backend import filter_native_logs, limit_malloc_arenas
from avemo.app.page import build_demo, launch_options

filter_native_logs()  # TensorFlow's and mediapipe's C++ notices stay out of the Space's log
limit_malloc_arenas()  # before the models' and the server's threads: memory stays flat under live mode
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)
demo = build_demo()


def stop(signum, frame):
    """SIGTERM (a Space or a container stopping, `kill`) stops the app as Ctrl-C does: Gradio's launch()
    then closes the server, which deletes the uploads still in its cache. Python's default for SIGTERM
    would end the process at once and leave them on disk."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    demo.launch(**launch_options())
