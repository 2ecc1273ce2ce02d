"""Per-video predictions: the top classes in a fixed order, ties included."""

import torch

from zelda.runs.predictions import top_classes


def test_top_classes_break_ties_by_class_index():
    names = [f"class{i}" for i in range(40)]
    scores = torch.zeros(2, 40)
    scores[1, 7] = 1.0  # one clear winner, the rest tied
    first, second = top_classes(scores, names, k=3)
    assert first == [("class0", 0.0), ("class1", 0.0), ("class2", 0.0)]
    assert second == [("class7", 1.0), ("class0", 0.0), ("class1", 0.0)]
