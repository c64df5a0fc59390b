from __future__ import annotations

import numpy as np
import pytest

from persian_chat.server.sampling import SamplingParams, apply_repetition_penalty, next_token

LOGITS = np.array([1.0, 3.0, 2.0, -1.0, 2.5], dtype=np.float32)


def test_temperature_zero_is_greedy() -> None:
    params = SamplingParams(temperature=0.0)
    assert next_token(LOGITS, [], params, params.generator()) == 1


def test_same_seed_same_tokens_and_different_seeds_differ() -> None:
    def draw(seed: int) -> list[int]:
        params = SamplingParams(temperature=1.5, seed=seed)
        rng = params.generator()
        return [next_token(LOGITS, [], params, rng) for _ in range(50)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_top_k_and_top_p_limit_the_candidates() -> None:
    params = SamplingParams(temperature=5.0, top_k=2, seed=0)
    rng = params.generator()
    assert {next_token(LOGITS, [], params, rng) for _ in range(200)} == {1, 4}
    # probabilities at T=1: token 1 holds ~0.48; with top_p=0.4 only it survives
    nucleus = SamplingParams(temperature=1.0, top_p=0.4, seed=0)
    rng = nucleus.generator()
    assert {next_token(LOGITS, [], nucleus, rng) for _ in range(200)} == {1}


def test_repetition_penalty_pushes_seen_tokens_down() -> None:
    penalised = apply_repetition_penalty(LOGITS, [1, 3], 2.0)
    assert penalised[1] == pytest.approx(1.5) and penalised[3] == pytest.approx(-2.0)
    assert penalised[0] == LOGITS[0]
    params = SamplingParams(temperature=0.0, repetition_penalty=2.0)
    assert next_token(LOGITS, [1], params, params.generator()) == 4


@pytest.mark.parametrize(
    "kwargs",
    [{"temperature": -1}, {"top_k": -1}, {"top_p": 0}, {"top_p": 1.5}, {"repetition_penalty": 0}],
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SamplingParams(**kwargs)  # type: ignore[arg-type]
