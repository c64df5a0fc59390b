"""The knowledge evaluation's scoring, with an answerer that reads its passages perfectly
and refuses without them: the figures must say exactly that."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from persian_chat.normalize import PersianNormalizer
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import Prompt
from persian_chat.server.text.retriever import load_retriever
from persian_chat.server.text.served_model import load_served_model
from persian_chat.training.data.knowledge_questions import grounded_questions
from persian_chat.training.knowledge_eval import knowledge_eval, says_dont_know


def test_dont_know_answers_are_recognized() -> None:
    normalize = PersianNormalizer().normalize
    assert says_dont_know("متأسفم، نمی‌دانم. بهتر است از منبع دیگری بپرسید.", normalize)
    assert says_dont_know("اطلاعی ندارم.", normalize)
    assert not says_dont_know("پایتخت ژاپن توکیو است.", normalize)


def test_a_perfect_reader_scores_what_retrieval_gives_it(
    repo: Path, tiny_gemma_served_dir: Path
) -> None:
    normalize = PersianNormalizer().normalize
    sources = repo / "datasets/sources"
    questions = {
        q.question: q for q in grounded_questions(sources / "tables", sources / "eval", normalize)
    }
    model = load_served_model(tiny_gemma_served_dir)
    settings = ServerSettings(model_dir=tiny_gemma_served_dir, knowledge_tokens=4096)
    retriever = load_retriever(repo / "datasets/knowledge/passages.jsonl", 3, 4096, 0.4)

    def reader(jobs: Sequence[Prompt]) -> list[str]:
        """Answers with the expected value when its passage is in the prompt, else refuses."""
        out = []
        for job in jobs:
            asked = job.messages[-1]["content"].rsplit("پرسش:", 1)[-1].strip()
            question = questions.get(asked)
            given = {p.id for p in job.sources}
            right = question is not None and question.passage_id in given
            out.append(f"پاسخ: {question.answer}." if right and question else "نمی‌دانم.")
        return out

    result = knowledge_eval(
        model, settings, retriever, reader, normalize, sources / "tables", sources / "eval", 16, 0
    )
    grounded = result["grounded"]
    assert grounded["questions"] == len(questions) >= 150
    assert grounded["exact_match_without_retrieval"] == 0.0
    assert grounded["exact_match_with_retrieval"] == grounded["retrieval_recall"] > 0.85
    assert grounded["refused_with_passage"] == 0.0  # it refused only where retrieval missed
    assert result["unanswerable"]["questions"] >= 50
    assert result["unanswerable"]["dont_know_rate"] == 1.0
