"""Fixtures of the command-line tests."""
import pytest


@pytest.fixture
def lab_sqlite(tmp_path):
    """An SQLite logger database with a few points of ``temperature``; yields its URL."""
    from flubber.loggers import ContinuousLogger

    url = "sqlite:///%s" % (tmp_path / "lab.sqlite")
    logger = ContinuousLogger("dateplots_lab", None, None, ["temperature"], url=url,
                              create_tables=True).start()
    for value in (20.0, 21.0, 22.5):
        logger.enqueue_point_now("temperature", value)
    logger.stop()
    return url
