"""The group commit that lets record workers share ledger round trips."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from optout_relay.aws.group_commit import GroupCommit


class GatedStore:
    """A store whose first flush waits until the test opens the gate."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.groups: list[list[str]] = []
        self.first_flush_started = threading.Event()
        self.gate = threading.Event()
        self.fail = fail or set()

    def flush(self, items: Sequence[str]) -> list[Exception | None]:
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.first_flush_started.set()
            assert self.gate.wait(timeout=10)
        return [ValueError(item) if item in self.fail else None for item in items]


class ObservedQueue(list):  # type: ignore[type-arg]
    """The commit's queue of pending writes, telling the test when one joins it."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def append(self, slot: object) -> None:
        self.extend([slot])

    def extend(self, slots: Iterable[object]) -> None:
        super().extend(slots)
        with self.changed:
            self.changed.notify_all()


def submit_while_the_first_flush_waits(
    store: GatedStore, commit: GroupCommit[str], later: list[str]
) -> dict[str, BaseException | None]:
    outcomes: dict[str, BaseException | None] = {}
    queue = commit._pending = ObservedQueue()  # observed, not changed

    def submit(item: str) -> None:
        try:
            commit.submit(item)
            outcomes[item] = None
        except Exception as error:  # recorded for the assertions
            outcomes[item] = error

    with ThreadPoolExecutor(max_workers=len(later) + 1) as pool:
        pool.submit(submit, "first")
        assert store.first_flush_started.wait(timeout=10)

        for item in later:
            pool.submit(submit, item)
        with queue.changed:
            assert queue.changed.wait_for(lambda: len(queue) == len(later), timeout=10)
        store.gate.set()
    return outcomes


def test_writes_that_arrive_during_a_flush_share_the_next_one() -> None:
    store = GatedStore()
    commit: GroupCommit[str] = GroupCommit(store.flush, max_group=25)
    later = [f"w{n}" for n in range(7)]
    outcomes = submit_while_the_first_flush_waits(store, commit, later)
    assert store.groups[0] == ["first"]
    assert len(store.groups) == 2 and sorted(store.groups[1]) == sorted(later)
    assert all(error is None for error in outcomes.values()) and len(outcomes) == 8


def test_groups_never_exceed_the_store_limit_and_every_write_is_flushed_once() -> None:
    store = GatedStore()
    commit: GroupCommit[str] = GroupCommit(store.flush, max_group=3)
    later = [f"w{n}" for n in range(8)]
    submit_while_the_first_flush_waits(store, commit, later)
    assert all(len(group) <= 3 for group in store.groups)
    flushed = [item for group in store.groups for item in group]
    assert sorted(flushed) == sorted(["first", *later])


def test_each_writer_gets_its_own_items_error() -> None:
    store = GatedStore(fail={"w1", "w3"})
    commit: GroupCommit[str] = GroupCommit(store.flush, max_group=25)
    outcomes = submit_while_the_first_flush_waits(store, commit, ["w0", "w1", "w2", "w3"])
    assert {item for item, error in outcomes.items() if error is not None} == {"w1", "w3"}
    assert isinstance(outcomes["w1"], ValueError) and str(outcomes["w1"]) == "w1"


def test_a_flush_that_raises_fails_its_whole_group_and_the_next_write_still_goes() -> None:
    calls: list[list[str]] = []

    def flush(items: Sequence[str]) -> list[Exception | None]:
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("store unreachable")
        return [None] * len(items)

    commit: GroupCommit[str] = GroupCommit(flush, max_group=25)
    with pytest.raises(ConnectionError):
        commit.submit("a")
    commit.submit("b")
    assert calls == [["a"], ["b"]]


def test_a_flush_answering_for_the_wrong_number_of_writes_fails_them_rather_than_hanging() -> None:
    commit: GroupCommit[str] = GroupCommit(lambda items: [], max_group=25)
    with pytest.raises(RuntimeError, match="answered for 0"):
        commit.submit("a")
    with pytest.raises(RuntimeError):
        commit.submit("b")  # the commit is not stuck "flushing"


def test_one_writers_many_items_go_in_groups_within_the_limit_each_with_its_own_answer() -> None:
    groups: list[list[str]] = []

    def flush(items: Sequence[str]) -> list[Exception | None]:
        groups.append(list(items))
        return [ValueError(item) if item.endswith("7") else None for item in items]

    commit: GroupCommit[str] = GroupCommit(flush, max_group=4)
    items = [f"t{n}" for n in range(10)]
    errors = commit.submit_all(items)
    assert [len(group) for group in groups] == [4, 4, 2]
    assert [item for group in groups for item in group] == items
    assert [str(error) for error in errors if error is not None] == ["t7"]
    assert errors[7] is not None and all(e is None for n, e in enumerate(errors) if n != 7)
    assert commit.submit_all([]) == []


def test_a_writers_items_that_arrive_during_a_flush_share_the_next_group_with_others() -> None:
    store = GatedStore()
    commit: GroupCommit[str] = GroupCommit(store.flush, max_group=25)
    queue = commit._pending = ObservedQueue()  # observed, not changed
    answers: dict[str, list[Exception | None]] = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        pool.submit(commit.submit, "first")
        assert store.first_flush_started.wait(timeout=10)
        pool.submit(lambda: answers.setdefault("many", commit.submit_all(["a", "b", "c"])))
        pool.submit(lambda: answers.setdefault("one", commit.submit_all(["d"])))
        with queue.changed:
            assert queue.changed.wait_for(lambda: len(queue) == 4, timeout=10)
        store.gate.set()
    assert store.groups[0] == ["first"]
    assert len(store.groups) == 2 and sorted(store.groups[1]) == ["a", "b", "c", "d"]
    assert answers == {"many": [None, None, None], "one": [None]}
