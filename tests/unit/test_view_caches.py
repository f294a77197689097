"""What a process keeps to draw views: listing totals, masked identities, statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflow.crypto import Sealer
from workflow.privacy import mask_person
from workflow.services.views import (
    Directory,
    Kept,
    ListingTotals,
    MaskedIdentities,
    person_view,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Counter:
    def __init__(self, *totals: int) -> None:
        self.totals = list(totals)
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.totals.pop(0)


def test_a_total_is_kept_for_its_time_and_counted_again_after() -> None:
    totals = ListingTotals(ttl=timedelta(seconds=5))
    count = Counter(1500, 1600)
    assert totals.get("k", T0, count) == 1500
    assert totals.get("k", T0 + timedelta(seconds=4.9), count) == 1500
    assert totals.fresh("k", T0 + timedelta(seconds=4.9)) == 1500
    assert count.calls == 1
    assert totals.fresh("k", T0 + timedelta(seconds=5)) is None
    assert totals.get("k", T0 + timedelta(seconds=5), count) == 1600
    assert count.calls == 2


def test_totals_are_kept_per_key() -> None:
    totals = ListingTotals()
    assert totals.get(("cw1", None), T0, Counter(10)) == 10
    assert totals.get(("cw2", None), T0, Counter(20)) == 20
    assert totals.fresh(("cw1", "intake"), T0) is None


def test_a_clock_moved_back_makes_a_kept_total_stale() -> None:
    totals = ListingTotals(ttl=timedelta(seconds=5))
    totals.get("k", T0, Counter(7))
    assert totals.fresh("k", T0 - timedelta(seconds=1)) is None


def test_while_one_request_recounts_the_others_answer_with_the_old_total() -> None:
    totals = ListingTotals(ttl=timedelta(seconds=5))
    totals.get("k", T0, Counter(100))
    later = T0 + timedelta(seconds=6)
    seen_meanwhile: list[int] = []

    def slow_count() -> int:
        seen_meanwhile.append(totals.get("k", later, Counter(999)))
        return 120

    assert totals.get("k", later, slow_count) == 120
    assert seen_meanwhile == [100]
    assert totals.fresh("k", later) == 120


def test_a_first_count_is_not_shared_with_a_request_that_has_nothing_to_show() -> None:
    totals = ListingTotals()
    inner: list[int] = []

    def count() -> int:
        inner.append(totals.get("k", T0, Counter(5)))
        return 5

    assert totals.get("k", T0, count) == 5 and inner == [5]


def test_totals_keep_at_most_their_limit() -> None:
    totals = ListingTotals(limit=2)
    for key in ("a", "b", "c"):
        totals.get(key, T0, Counter(1))
    assert totals.fresh("a", T0) is None
    assert totals.fresh("b", T0) == 1 and totals.fresh("c", T0) == 1


def test_masked_identities_are_masked_once_per_ciphertext_and_never_kept_whole() -> None:
    sealer = Sealer(["k1:unit-test-key"])
    person = {"name": "张小红", "phone": "13812341234", "address": "东村三组12号"}
    sealed = sealer.seal_json(person)
    masked = MaskedIdentities()
    first = masked.get(sealer, sealed)
    assert first == mask_person(person)
    assert masked.get(sealer, sealed) is first
    assert "张小红" not in repr(masked._entries)
    resealed = sealer.seal_json({**person, "name": "李四"})
    assert masked.get(sealer, resealed)["name"] == "李*"  # a new ciphertext: a new entry


def test_masked_identities_keep_at_most_their_limit() -> None:
    sealer = Sealer(["k1:unit-test-key"])
    masked = MaskedIdentities(limit=2)
    values = [sealer.seal_json({"name": f"n{i}"}) for i in range(3)]
    for value in values:
        masked.get(sealer, value)
    assert list(masked._entries) == values[1:]


def test_a_person_view_is_the_same_with_or_without_the_kept_masks() -> None:
    sealer = Sealer(["k1:unit-test-key"])
    masked = MaskedIdentities()
    sealed = sealer.seal_json({"name": "王大力", "phone": "13900001111"})
    for facts in (
        None,
        {},
        {"relation": "spouse", "is_minor": False},
        {"phone": "13700002222", "relation": "spouse"},  # a fact that overrides and is masked
    ):
        for value in (sealed, None):
            plain = person_view(sealer, value, facts, reveal=False)
            assert person_view(sealer, value, facts, reveal=False, masked=masked) == plain
            if plain is not None:
                assert list(person_view(sealer, value, facts, False, masked) or {}) == list(plain)
    revealed = person_view(sealer, sealed, {"relation": "spouse"}, reveal=True, masked=masked)
    assert revealed == {"name": "王大力", "phone": "13900001111", "relation": "spouse"}


def test_statements_are_built_once_per_key() -> None:
    statements = Kept(limit=2)
    built: list[str] = []

    def build(name: str) -> str:
        built.append(name)
        return name.upper()

    assert statements.get("a", lambda: build("a")) == "A"
    assert statements.get("a", lambda: build("a")) == "A"
    statements.get("b", lambda: build("b"))
    statements.get("c", lambda: build("c"))
    statements.get("a", lambda: build("a"))
    assert built == ["a", "b", "c", "a"]


def test_clearing_the_directory_forgets_every_kept_thing() -> None:
    directory = Directory()
    directory.totals.get("k", T0, Counter(3))
    directory.statements.get("s", lambda: "S")
    sealer = Sealer(["k1:unit-test-key"])
    directory.masked.get(sealer, sealer.seal_json({"name": "x"}))
    directory.clear()
    assert directory.totals.fresh("k", T0) is None
    assert directory.statements.get("s", lambda: "T") == "T"
    assert not directory.masked._entries
