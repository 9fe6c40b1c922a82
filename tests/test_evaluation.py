"""The metrics every card reports (avemo.evaluation): small pure functions, checked on hand-made answers."""
from __future__ import annotations

import math

from avemo.config import EMOTIONS
from avemo.evaluation import accuracy_without, classification_report


def test_a_six_class_score_leaves_out_the_neutral_faces_and_counts_a_neutral_answer_wrong():
    neutral, happy, sad = (EMOTIONS.index(name) for name in ("neutral", "happy", "sad"))
    truth = [neutral, neutral, happy, happy, happy, sad, sad, sad]
    answer = [neutral, sad, happy, happy, neutral, sad, neutral, happy]
    report = classification_report(truth, answer)
    assert report["accuracy"] == 4 / 8
    # Six faces are not neutral; of those, happy twice and sad once were right, the neutral answers are misses.
    assert accuracy_without(report) == (3 / 6, 6)
    assert accuracy_without(report, left_out=()) == (4 / 8, 8)


def test_with_nothing_left_the_score_is_undefined_not_zero():
    neutral = EMOTIONS.index("neutral")
    score, n = accuracy_without(classification_report([neutral, neutral], [neutral, neutral]))
    assert n == 0 and math.isnan(score)
