"""Min/max decimation: at most max_points, in time order, and no spike is ever lost."""
import math
import random

import pytest

from flubber.web import MinMaxDecimator, decimate


def _sine(count, start=0.0, step=1.0):
    return [(start + i * step, math.sin(i / 50.0)) for i in range(count)]


def test_a_series_shorter_than_max_points_is_returned_as_it_is():
    points = _sine(100)
    assert decimate(points, 0, 100, 2000) == points


def test_a_long_series_is_cut_to_at_most_max_points():
    points = _sine(100000)
    kept = decimate(points, 0, 100000, 1000)
    assert 900 <= len(kept) <= 1000


def test_the_kept_points_are_real_points_in_time_order():
    points = _sine(50000)
    kept = decimate(points, 0, 50000, 500)
    assert kept == sorted(kept)
    assert set(kept) <= set(points)


def test_a_one_reading_spike_survives_any_decimation():
    rng = random.Random(7)
    points = [(float(i), rng.gauss(0.0, 1.0)) for i in range(200000)]
    points[123457] = (123457.0, 1000.0)
    points[4321] = (4321.0, -1000.0)
    for max_points in (2, 10, 100, 4000):
        kept = decimate(points, 0, 200000, max_points)
        assert (123457.0, 1000.0) in kept and (4321.0, -1000.0) in kept, max_points


def test_each_bucket_keeps_its_minimum_and_maximum():
    # two buckets of 10 s: [0, 10) and [10, 20)
    points = [(float(t), v) for t, v in enumerate([5, 1, 9, 5, 5, 5, 5, 5, 5, 5, 3, 3, 3, 7, 3, 3, 2, 3, 3, 3])]
    assert decimate(points, 0, 20, 4) == [(1.0, 1), (2.0, 9), (13.0, 7), (16.0, 2)]


def test_a_flat_bucket_keeps_one_point():
    points = [(float(t), 4.0) for t in range(100)]
    kept = decimate(points, 0, 100, 10)
    assert len(kept) == 5 and all(value == 4.0 for _, value in kept)


def test_points_without_a_value_are_counted_but_not_kept():
    decimator = MinMaxDecimator(0, 10, 100)
    for t, value in [(0, 1.0), (1, None), (2, 3.0)]:
        decimator.add(t, value)
    assert decimator.count == 3
    assert decimator.points() == [(0, 1.0), (2, 3.0)]
    assert not decimator.decimated


def test_points_outside_the_range_go_to_the_edge_buckets():
    points = [(-5.0, 100.0)] + [(float(t), 0.0) for t in range(100)] + [(200.0, -100.0)]
    kept = decimate(points, 0, 100, 10)
    assert (-5.0, 100.0) in kept and (200.0, -100.0) in kept


@pytest.mark.parametrize("start, end, max_points", [(0, 10, 1), (10, 10, 100), (10, 0, 100)])
def test_an_impossible_request_is_refused(start, end, max_points):
    with pytest.raises(ValueError):
        MinMaxDecimator(start, end, max_points)
