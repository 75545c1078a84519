"""The on-disk spool: the queue in an SQLite file, surviving its process."""
import sqlite3

import gevent
import pytest

from flubber.loggers import SpoolError
from flubber.loggers._spool import SpoolQueue

TARGET = "sqlite:////tmp/x.db table=dateplots_x"


def _points(first, last):
    return [(seq, "a", 1.7e9 + seq, float(seq)) for seq in range(first, last + 1)]


def _on_disk(path):
    conn = sqlite3.connect(str(path))
    try:
        return [row[0] for row in conn.execute("SELECT seq FROM points ORDER BY seq")]
    except sqlite3.OperationalError:  # still locked by the spool
        return None
    finally:
        conn.close()


def test_points_reach_the_file_at_the_end_of_the_hub_turn(tmp_path):
    path = tmp_path / "q.spool"
    spool = SpoolQueue(path, TARGET)
    for point in _points(1, 3):
        spool.append(point)
    assert len(spool) == 3
    gevent.sleep(0)  # the enqueuing greenlet yields: the turn ends
    assert spool._pending == []
    spool.close()
    assert _on_disk(path) == [1, 2, 3]


def test_peek_and_discard_follow_the_order(tmp_path):
    spool = SpoolQueue(tmp_path / "q.spool", TARGET)
    for point in _points(1, 5):
        spool.append(point)
    head = spool.peek(2)
    assert [tuple(point) for point in head] == _points(1, 2)
    spool.discard(head)
    assert len(spool) == 3
    assert [point[0] for point in spool.peek(10)] == [3, 4, 5]
    assert spool.pending() == [("a", 1.7e9 + seq, float(seq)) for seq in (3, 4, 5)]
    spool.close()


def test_a_reopened_spool_keeps_points_origin_sequence_and_doubt(tmp_path):
    path = tmp_path / "q.spool"
    spool = SpoolQueue(path, TARGET)
    origin = spool.origin
    for point in _points(1, 4):
        spool.append(point)
    spool.discard(spool.peek(1))
    spool.set_in_doubt((2, 3, [17, 5, 1.7e9, None]))
    spool.set_session({"thread_id": 9, "user": "u", "boot": 1.0})
    spool.close()
    again = SpoolQueue(path, TARGET)
    assert again.origin == origin
    assert again.next_seq == 5
    assert [point[0] for point in again.peek(10)] == [2, 3, 4]
    assert again.in_doubt == (2, 3, [17, 5, 1.7e9, None])
    assert again.session == {"thread_id": 9, "user": "u", "boot": 1.0}
    again.discard(again.peek(2))
    assert again.in_doubt is None  # settled with the batch
    again.close()


def test_next_seq_survives_an_empty_spool(tmp_path):
    path = tmp_path / "q.spool"
    spool = SpoolQueue(path, TARGET)
    for point in _points(1, 3):
        spool.append(point)
    spool.discard(spool.peek(3))
    spool.close()
    assert SpoolQueue(path, TARGET).next_seq == 4


def test_a_spool_in_use_is_refused(tmp_path):
    path = tmp_path / "q.spool"
    first = SpoolQueue(path, TARGET)
    with pytest.raises(SpoolError, match="in use"):
        SpoolQueue(path, TARGET)
    first.close()
    SpoolQueue(path, TARGET).close()


def test_a_spool_holding_points_for_another_target_is_refused(tmp_path):
    path = tmp_path / "q.spool"
    spool = SpoolQueue(path, TARGET)
    spool.append(_points(1, 1)[0])
    spool.close()
    with pytest.raises(SpoolError, match="holds 1 points for"):
        SpoolQueue(path, "mysql://db:3306/cinfdata table=dateplots_other")


def test_an_empty_spool_may_change_target(tmp_path):
    path = tmp_path / "q.spool"
    SpoolQueue(path, TARGET).close()
    SpoolQueue(path, "mysql://db:3306/cinfdata table=dateplots_other").close()


def test_a_file_that_is_not_a_spool_is_refused(tmp_path):
    path = tmp_path / "q.spool"
    path.write_bytes(b"this is not an SQLite database, it is a text file" * 100)
    with pytest.raises(SpoolError, match="not a usable spool"):
        SpoolQueue(path, TARGET)
