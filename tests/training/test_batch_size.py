from __future__ import annotations

from persian_chat.training.batch_size import choose_batch_size, estimate_sample_bytes

GIB = 1024**3


def test_more_memory_allows_a_bigger_batch() -> None:
    args = dict(
        trainable_params=4_000_000,
        total_params=100_000_000,
        max_length=512,
        layers=18,
        hidden=640,
        vocab=6_000,
    )
    small = choose_batch_size(available_bytes=2 * GIB, **args)  # type: ignore[arg-type]
    large = choose_batch_size(available_bytes=20 * GIB, **args)  # type: ignore[arg-type]
    assert 1 <= small.batch_size < large.batch_size <= 16
    assert "GiB free" in large.reason and f"batch {large.batch_size}" in large.reason


def test_longer_sequences_and_bigger_vocabularies_cost_more() -> None:
    assert estimate_sample_bytes(1024, 18, 640, 6000) == 2 * estimate_sample_bytes(
        512, 18, 640, 6000
    )
    assert estimate_sample_bytes(512, 18, 640, 262_144) > 3 * estimate_sample_bytes(
        512, 18, 640, 6000
    )


def test_no_memory_still_gives_batch_one() -> None:
    choice = choose_batch_size(GIB // 10, 10**8, 10**8, 512, 18, 640, 262_144)
    assert choice.batch_size == 1
