"""Model shapes, initialization statistics and the head's view averaging."""

import math

import pytest
import torch

from zelda.data.sample import DataSample
from zelda.engine.metrics import AccuracyMetric
from zelda.models.backbone import ZeldaBackbone
from zelda.models.head import ClsHead
from zelda.models.preprocessor import DataPreprocessor
from zelda.models.recognizer import Recognizer

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def recognizer(num_classes=2, average_clips="prob") -> Recognizer:
    torch.manual_seed(0)
    return Recognizer(ZeldaBackbone(), ClsHead(num_classes, average_clips=average_clips), DataPreprocessor(MEAN, STD))


def test_preprocessor_normalizes_per_channel():
    inputs = torch.zeros(1, 1, 3, 2, 2, 2, dtype=torch.uint8)
    inputs[:, :, 1] = 255
    out = DataPreprocessor(MEAN, STD)(inputs)
    assert out.dtype == torch.float32
    assert out[0, 0, 0].unique().item() == pytest.approx(-123.675 / 58.395)
    assert out[0, 0, 1].unique().item() == pytest.approx((255 - 116.28) / 57.12)


def test_backbone_output_shape():
    feats = ZeldaBackbone()(torch.randn(2, 3, 16, 64, 64))
    assert feats.shape == (2, 128, 8, 8, 8)


def test_backbone_and_head_initialization_statistics():
    torch.manual_seed(0)
    backbone, head = ZeldaBackbone(), ClsHead(num_classes=400)
    conv = backbone.conv1[0].weight  # fan_out = 64 * 3 * 7 * 7
    assert conv.std().item() == pytest.approx(math.sqrt(2 / (64 * 3 * 7 * 7)), rel=0.05)
    assert backbone.conv[0].weight.std().item() == pytest.approx(math.sqrt(2 / (128 * 27)), rel=0.05)
    assert backbone.conv1[0].bias.abs().max() == 0
    assert torch.all(backbone.conv1[1].weight == 1) and torch.all(backbone.conv1[1].bias == 0)
    assert head.fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert head.fc.bias.abs().max() == 0


def test_recognizer_modes_fold_views_into_the_batch():
    model = recognizer().eval()
    inputs = torch.randint(0, 255, (2, 3, 3, 4, 32, 32), dtype=torch.uint8)  # B=2 videos, V=3 views
    samples = [DataSample(label=0, filename="a"), DataSample(label=1, filename="b")]
    assert model(inputs, samples, mode="tensor").shape == (6, 128, 2, 4, 4)
    scores = model(inputs, samples, mode="predict")
    assert scores.shape == (2, 2) and torch.allclose(scores.sum(1), torch.ones(2))
    loss = model(inputs, samples, mode="loss")
    assert loss.dim() == 0 and loss.item() == pytest.approx(math.log(2), abs=0.05)
    with pytest.raises(ValueError, match="mode must be one of"):
        model(inputs, samples, mode="train")


def test_views_keep_their_video_and_order_through_the_recognizer():
    """Distinct views: per-view scores [b, v] are those of view v of video b run alone, and the
    loss pairs every view with its own video's label."""
    model = recognizer(num_classes=3, average_clips=None).eval()
    torch.manual_seed(1)
    inputs = torch.randint(0, 255, (2, 3, 3, 4, 32, 32), dtype=torch.uint8)  # every view different
    samples = [DataSample(label=2, filename="a"), DataSample(label=0, filename="b")]
    per_view = model(inputs, samples, mode="predict")
    assert per_view.shape == (2, 3, 3)
    for b in range(2):
        for v in range(3):
            alone = model(inputs[b : b + 1, v : v + 1], samples[b : b + 1], mode="predict")
            assert torch.allclose(per_view[b, v], alone[0, 0], atol=1e-5), (b, v)
    assert len({tuple(row.tolist()) for row in per_view.flatten(0, 1)}) == 6  # the views really differ
    labels = torch.tensor([2, 2, 2, 0, 0, 0])  # views 0-2 belong to video a, 3-5 to video b
    expected = torch.nn.functional.cross_entropy(per_view.flatten(0, 1), labels)
    assert model(inputs, samples, mode="loss").item() == pytest.approx(expected.item(), rel=1e-5)


def test_average_clips_against_hand_computed_values():
    logits = torch.tensor([[1.0, 0.0], [3.0, 1.0], [0.0, 0.0], [0.0, 2.0]])  # 2 videos x 2 views
    prob = ClsHead(2, average_clips="prob").average_views(logits, num_views=2)
    s = lambda a, b: math.exp(a) / (math.exp(a) + math.exp(b))  # noqa: E731
    expected = [[(s(1, 0) + s(3, 1)) / 2, (s(0, 1) + s(1, 3)) / 2], [(0.5 + s(0, 2)) / 2, (0.5 + s(2, 0)) / 2]]
    assert torch.allclose(prob, torch.tensor(expected))
    score = ClsHead(2, average_clips="score").average_views(logits, num_views=2)
    assert torch.allclose(score, torch.tensor([[2.0, 0.5], [0.0, 1.0]]))
    none = ClsHead(2, average_clips=None).average_views(logits, num_views=2)
    assert torch.equal(none, logits.view(2, 2, 2))


def test_unknown_average_clips_and_uneven_views_are_refused():
    with pytest.raises(ValueError, match="average_clips must be one of"):
        ClsHead(2, average_clips="max")
    with pytest.raises(ValueError, match="cannot be split"):
        ClsHead(2).average_views(torch.zeros(5, 2), num_views=2)


def test_training_steps_reduce_the_loss_on_a_fixed_batch():
    model = recognizer().train()
    inputs = torch.randint(0, 255, (4, 1, 3, 4, 32, 32), dtype=torch.uint8)
    samples = [DataSample(label=i % 2, filename=str(i)) for i in range(4)]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(15):
        loss = model(inputs, samples, mode="loss")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5


def test_metric_top1_top5_mean_class_accuracy_by_hand():
    metric = AccuracyMetric(topk=(1, 2, 5))
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    metric.update(scores[:2], torch.tensor([1, 1]))
    metric.update(scores[2:], torch.tensor([0, 0]))
    result = metric.compute()
    assert result["top1"] == pytest.approx(0.5)  # videos 0 and 3 are right
    assert result["top2"] == pytest.approx(0.75)  # video 2's label 0 is ranked last
    assert result["top5"] == 1.0  # k >= number of classes: every class counts
    assert result["mean_class_acc"] == pytest.approx(0.5)  # class 1: 1/2 right, class 0: 1/2 right


def test_mean_class_accuracy_weighs_classes_not_videos():
    metric = AccuracyMetric(topk=(1,))
    metric.update(torch.tensor([[1.0, 0.0]] * 4), torch.tensor([0, 0, 0, 1]))
    result = metric.compute()
    assert result["top1"] == pytest.approx(0.75)
    assert result["mean_class_acc"] == pytest.approx(0.5)  # class 0: 3/3, class 1: 0/1


def test_tied_scores_rank_the_lower_class_first_every_time():
    """An untrained model scores many classes equally: ties must not depend on the sort algorithm."""
    metric = AccuracyMetric(topk=(1, 5))
    scores = torch.zeros(4, 400)  # every class tied
    metric.update(scores, torch.tensor([0, 3, 4, 5]))
    result = metric.compute()
    assert result["top1"] == 0.25  # class 0 ranks first, as argmax would pick it
    assert result["top5"] == 0.75  # classes 0-4 are the top 5; class 5 is not


def test_metric_state_resets_between_evaluations():
    metric = AccuracyMetric()
    metric.update(torch.tensor([[0.0, 1.0]]), torch.tensor([0]))
    assert metric.compute()["top1"] == 0.0
    metric.reset()
    metric.update(torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
    assert metric.compute()["top1"] == 1.0 and len(metric) == 1
    metric.reset()
    with pytest.raises(ValueError, match="empty"):
        metric.compute()
