from __future__ import annotations

from persian_chat.server.text.stop_strings import StopMatcher


def test_stop_string_split_over_pieces() -> None:
    matcher = StopMatcher(["<end>"])
    assert matcher.feed("سلام <en") == "سلام "
    assert matcher.feed("d> بعدی") == ""
    assert matcher.stopped and matcher.flush() == ""


def test_held_back_text_is_released_when_it_is_not_a_stop() -> None:
    matcher = StopMatcher(["<end>"])
    assert matcher.feed("a<e") == "a"
    assert matcher.feed("x") == "<ex"
    assert matcher.feed("<en") == ""
    assert matcher.flush() == "<en"
    assert not matcher.stopped


def test_earliest_of_several_stops_wins_and_persian_stops_work() -> None:
    matcher = StopMatcher(["پایان", "###"])
    assert matcher.feed("یک ### دو پایان") == "یک "
    assert matcher.stopped
    assert matcher.feed("بیشتر") == ""


def test_no_stops_passes_everything_through() -> None:
    matcher = StopMatcher([])
    assert matcher.feed("متن") == "متن" and matcher.flush() == ""
