import json
import logging
import re
import threading

import pytest

from corral.events import (
    EVENT_TYPES,
    Event,
    EventBus,
    HostFinished,
    HostStarted,
    OperationResult,
    OutputLine,
    RunFinished,
    RunStarted,
    event_from_dict,
    mask_secrets,
    new_run_id,
)

EVENTS = [
    RunStarted(
        "r",
        1.5,
        argv=("corral", "-H", "a"),
        user="ana",
        controller="ops1",
        version="0.1.0",
        cwd="/srv",
        tasks=("deploy",),
        command=None,
        selection="a,b",
        hosts=("a", "b"),
        config={"concurrency": 8, "dry": False},
    ),
    HostStarted("r", 2.0, host="a"),
    OutputLine("r", 2.1, host="a", stream="stderr", text="warning: <x>"),
    OperationResult(
        "r",
        2.2,
        host="a",
        operation="put",
        changed=True,
        ok=True,
        message="m",
        diff="-a\n+b\n",
        commands=("mv x y",),
    ),
    HostFinished(
        "r",
        3.0,
        host="a",
        status="failed",
        exit_code=2,
        error_type="UnexpectedExit",
        error="a: boom",
        duration=1.0,
        task="deploy",
    ),
    RunFinished("r", 4.0, counts={"ok": 1, "failed": 1}, duration=2.5, exit_status=2),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_every_event_round_trips_through_json(event: object) -> None:
    data = event.to_dict()  # type: ignore[attr-defined]
    assert data["type"] == event.type and data["run_id"] == "r"  # type: ignore[attr-defined]
    again = event_from_dict(json.loads(json.dumps(data)))
    assert again == event


def test_every_event_type_is_known_by_name() -> None:
    assert set(EVENT_TYPES) == {e.type for e in EVENTS}
    with pytest.raises(ValueError, match="unknown event type 'nope'"):
        event_from_dict({"type": "nope"})


def test_run_ids_sort_by_time_and_do_not_clash() -> None:
    first, later = new_run_id(1_796_159_000.0), new_run_id(1_796_159_001.0)
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", first)
    assert first.startswith("20261201T") and first < later
    assert len({new_run_id(1_796_159_000.0) for _ in range(1000)}) == 1000


def test_mask_secrets_hides_every_occurrence_longest_first() -> None:
    assert mask_secrets("pw=abc abcdef x", ["abc", "abcdef", ""]) == "pw=**** **** x"
    assert mask_secrets("nothing here", []) == "nothing here"


def test_the_bus_hands_events_to_consumers_in_order() -> None:
    bus, seen = EventBus(), []
    bus.subscribe(lambda e: seen.append(("one", e.type)))
    remove = bus.subscribe(lambda e: seen.append(("two", e.type)))
    bus.emit(EVENTS[1])
    remove()
    bus.emit(EVENTS[2])
    assert seen == [("one", "host_started"), ("two", "host_started"), ("one", "output_line")]


def test_a_failing_consumer_is_logged_once_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    bus, seen = EventBus(), list[Event]()

    def broken(event: object) -> None:
        raise OSError("disk full")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    with caplog.at_level(logging.WARNING, logger="corral.events"):
        for event in EVENTS:
            bus.emit(event)
    assert seen == EVENTS  # the run's other consumers got everything
    assert len(caplog.records) == 1 and "removed; the run goes on" in caplog.text
    assert bus.consumers == (seen.append,)


def test_the_bus_takes_events_from_many_threads() -> None:
    bus, seen = EventBus(), list[Event]()
    bus.subscribe(seen.append)

    def emit_many() -> None:
        for _ in range(500):
            bus.emit(EVENTS[1])

    threads = [threading.Thread(target=emit_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4000
