# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AVEMO_DATA ?= $(abspath ../shared/data)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test install browser evaluate train bench screenshot clean

$(STAMP): requirements.txt requirements-train.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser test (Playwright cannot download its own browser here).
browser:
	@test -x /usr/bin/chromium || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "warning: could not install chromium; the browser test will be skipped"; }

demo: $(STAMP)
	$(PY) app.py

test: $(STAMP) browser
	$(PY) -m pytest -q

# Speaker-independent evaluation of the voice (resumable, cached in runs/ and cache/): within the corpora, on a
# corpus held out whole, under noise and codecs, the v0.9.0 recipe beside it, and the screen of what generalises.
evaluate: $(STAMP)
	$(PY) -m train.audio evaluate                      # RAVDESS, SAVEE: 4 speaker folds; EmoDB: leave one speaker out
	$(PY) -m train.audio cross-corpus                  # trained on two corpora, scored on the third
	$(PY) -m train.audio robustness                    # RAVDESS's held-out actors in noise, a room, codecs
	$(PY) -m train.audio cross-corpus --recipe "v0.9.0, detector's span"   # the baseline row (all four experts)
	$(PY) -m train.voice_screen layers                 # what helps the voice generalise: each Whisper state alone,
	$(PY) -m train.voice_screen speech                 # one change at a time,
	$(PY) -m train.voice_screen combination            # and the experts together
	$(PY) -m train.audio evaluate --protocol luna2022  # Luna-Jiménez et al. 2022's actor folds, for the fusion
	$(PY) -m train.faces sweep                         # framing of each face CNN, on labelled stills
	$(PY) -m train.fusion fit                          # paired takes: the face-AU expert, every fusion method, nested

# The product's models, trained on all the data, with their model cards.
train: $(STAMP)
	$(PY) -m train.audio final      # the voice on RAVDESS, SAVEE and EmoDB, its card from the evaluation
	$(PY) -m train.audio vad        # the speech gate into weights/audio, measured on every clip and on non-speech
	$(PY) -m train.video default    # the frame models (FER CNN, facex, Face Landmarker), no head yet
	$(PY) -m train.faces fit        # the expression head on labelled stills, subjects held out: its matrix for the fusion rule
	$(PY) -m train.fusion default   # the rule's matrices from the above (keeps what `fit` measured)

# The README's picture: the browser test analyses a clip on the real page and saves what it shows.
screenshot: $(STAMP) browser
	$(PY) -m pytest -q tests/test_browser.py -k upload_analyse_and_show_results
	cp tests/artifacts/app-video.png docs/screenshot.png

bench: $(STAMP)
	$(PY) -m bench.predict

clean:
	rm -rf $(VENV) .pytest_cache
