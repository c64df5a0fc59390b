from __future__ import annotations

from persian_chat.loss_log import paired_difference, smoothed_loss


def test_smoothed_loss_compares_the_first_and_last_tenth() -> None:
    records = [{"loss": 5.0}] * 10 + [{"loss": 3.0}] * 80 + [{"loss": 2.0}] * 10
    trend = smoothed_loss(records)
    assert trend == {"start": 5.0, "end": 2.0, "ratio": 0.4, "window": 10}
    assert smoothed_loss([{"loss": 1.0}] * 5) is None  # too short to say


def test_paired_difference_compares_the_same_steps_only() -> None:
    reference = [{"step": s, "loss": 3.0} for s in (5, 10, 15, 20)]
    run = [{"step": 10, "loss": 2.5}, {"step": 20, "loss": 3.5}, {"step": 25, "loss": 1.0}]
    assert paired_difference(run, reference) == (0.0, 2)
    assert paired_difference(run, reference, last=1) == (0.5, 1)
    assert paired_difference([{"step": 7, "loss": 1.0}], reference) is None
