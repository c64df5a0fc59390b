from __future__ import annotations


def test_smoothed_loss_compares_the_first_and_last_tenth() -> None:
    from persian_chat.training.train_log import smoothed_loss

    records = [{"loss": 5.0}] * 10 + [{"loss": 3.0}] * 80 + [{"loss": 2.0}] * 10
    trend = smoothed_loss(records)
    assert trend == {"start": 5.0, "end": 2.0, "ratio": 0.4, "window": 10}
    assert smoothed_loss([{"loss": 1.0}] * 5) is None  # too short to say
