"""The relay's gathering window: short after a quiet spell or a moderate flow, longer
only while rows stream in faster than the threshold (times are given, nothing sleeps)."""

from __future__ import annotations

import pytest

from tasks.relay import GATHER_SECONDS, GATHER_STREAM_SECONDS, Gathering


def passes(gathering: Gathering, rows_per_second: float, seconds: float, every: float) -> float:
    """Claims every ``every`` seconds of the rows committed meanwhile; returns the clock."""
    now = 100.0
    while now < 100.0 + seconds:
        gathering.claimed(now, now + 0.002, round(rows_per_second * every))
        now += every
    return now


def test_a_commit_after_a_quiet_spell_is_claimed_at_once() -> None:
    gathering = Gathering()
    assert gathering.pause(now=5.0) == 0
    gathering.claimed(5.0, 5.002, 1)
    assert gathering.pause(now=60.0) == 0


def test_commits_back_to_back_wait_for_the_short_window() -> None:
    gathering = Gathering()
    gathering.claimed(5.0, 5.002, 1)
    assert gathering.pause(now=5.012) == pytest.approx(GATHER_SECONDS - 0.010)


def test_a_moderate_flow_keeps_the_short_window() -> None:
    gathering = Gathering()
    now = passes(gathering, rows_per_second=100, seconds=3, every=0.02)
    assert gathering.pause(now) < GATHER_SECONDS


def test_a_stream_above_the_threshold_waits_longer_and_a_lull_ends_it() -> None:
    gathering = Gathering()
    now = passes(gathering, rows_per_second=300, seconds=3, every=0.02)
    assert gathering.pause(now) > GATHER_SECONDS
    assert gathering.pause(now) <= GATHER_STREAM_SECONDS
    for _ in range(10):  # empty periodic passes: the flow stopped
        now += 2.0
        gathering.claimed(now, now + 0.001, 0)
    gathering.claimed(now + 0.5, now + 0.502, 1)
    assert gathering.pause(now + 0.51) < GATHER_SECONDS


def test_one_burst_is_not_a_stream() -> None:
    gathering = Gathering()
    last = passes(gathering, rows_per_second=50, seconds=2, every=0.05) - 0.05
    at = last + 0.02
    gathering.claimed(at, at + 0.002, 6)  # six commits at once, 20 ms after the last claim
    assert gathering.pause(at + 0.01) < GATHER_SECONDS
