"""The operator's work queue: deduplicated keys, delays, and a key re-added while worked on."""

from __future__ import annotations

import threading

from tuner.operator._queue import WorkQueue


def test_keys_come_out_once_in_order() -> None:
    queue: WorkQueue[tuple[str, str]] = WorkQueue()
    for key in (("a", "x"), ("b", "y"), ("a", "x"), ("c", "z")):
        queue.add(key)
    assert len(queue) == 3
    assert [queue.get(0), queue.get(0), queue.get(0), queue.get(0)] == [
        ("a", "x"),
        ("b", "y"),
        ("c", "z"),
        None,
    ]


def test_a_delayed_key_waits_and_an_immediate_add_moves_it_earlier() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("later", delay=3600)
    assert queue.get(0) is None
    assert len(queue) == 1
    queue.add("later")  # due now
    assert queue.get(0) == "later"
    queue.add("soon", delay=0.05)
    assert queue.get(10) == "soon"  # the waiting get wakes when it is due


def test_a_key_added_while_being_worked_on_comes_out_again() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("k")
    assert queue.get(0) == "k"
    queue.add("k")  # a change seen meanwhile
    assert queue.get(0) == "k"


def test_a_waiting_get_wakes_on_add_from_another_thread() -> None:
    queue: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    waiter = threading.Thread(target=lambda: got.append(queue.get(30)))
    waiter.start()
    queue.add("k")
    waiter.join(30)
    assert got == ["k"]
