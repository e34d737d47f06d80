from datetime import UTC, datetime, timedelta, timezone

import pytest

from flowwidgets.models import (
    RUN_STATUSES,
    STEP_STATUSES,
    Actions,
    Pipeline,
    Run,
    RunDetail,
    Status,
    Step,
    format_time,
    parse_time,
)


def test_status_parse_is_total():
    assert Status.parse("SUCCEEDED") is Status.SUCCEEDED
    assert Status.parse(" failed ") is Status.FAILED
    assert Status.parse("exploded") is Status.UNKNOWN
    assert Status.parse(None) is Status.UNKNOWN
    assert Status.FAILED.is_terminal and not Status.RUNNING.is_terminal
    assert Status.REQUESTED.is_active and not Status.SUCCEEDED.is_active
    assert Status.PENDING not in RUN_STATUSES and Status.PENDING in STEP_STATUSES


@pytest.mark.parametrize(
    "value",
    [
        "2026-05-20T14:30:00Z",
        "2026-05-20T14:30:00.000Z",
        "2026-05-20T09:30:00-05:00",
        "2026-05-20T14:30:00",
        1779287400.0,
        datetime(2026, 5, 20, 16, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_parse_time_gives_aware_utc(value):
    dt = parse_time(value)
    assert dt == datetime(2026, 5, 20, 14, 30, tzinfo=UTC)
    assert dt.tzinfo is UTC


def test_parse_time_rejects_garbage_clearly():
    assert parse_time(None) is None and parse_time("") is None
    with pytest.raises(TypeError, match="cannot read a time"):
        parse_time(["x"])
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_format_time_is_the_same_on_its_fast_path():
    """UTC times after the year 999 take ``isoformat``; it must equal the ``strftime``
    text (milliseconds truncated, not rounded) for any microsecond and zone."""
    import random
    from datetime import timedelta, timezone

    rng = random.Random(5)
    for _ in range(2000):
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=rng.randrange(-10**16, 10**17))
        slow = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert format_time(when) == slow
        other = when.astimezone(timezone(timedelta(hours=rng.randint(-12, 12))))
        assert format_time(other) == slow
        assert format_time(when.replace(tzinfo=None)) == slow
    assert format_time(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == (
        datetime(999, 12, 31, 23, 59, 59, 999999).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")


def test_format_time_round_trips_with_z():
    dt = datetime(2026, 5, 20, 14, 30, 1, 234000, tzinfo=UTC)
    assert format_time(dt) == "2026-05-20T14:30:01.234Z"
    assert parse_time(format_time(dt)) == dt
    assert format_time(None) is None


def test_to_dict_is_json_ready():
    run = Run("r1", "p", Status.FAILED, started_at=datetime(2026, 1, 1, tzinfo=UTC),
              failed_step="merge")
    detail = RunDetail(run, steps=(Step("merge", Status.FAILED, depends_on=("a", "b")),),
                       actions=Actions(restart_from_step=("merge",), rerun=True))
    d = detail.to_dict()
    assert d["run"]["status"] == "failed"
    assert d["run"]["started_at"] == "2026-01-01T00:00:00.000Z"
    assert d["steps"][0]["depends_on"] == ["a", "b"]
    assert d["actions"]["restart_from_step"] == ["merge"]
    assert detail.step("merge").status is Status.FAILED
    with pytest.raises(KeyError, match="has no step 'nope'"):
        detail.step("nope")
    assert Pipeline("events", kind="streaming").is_streaming
