"""ContinuousLogger takes its user and password from the URL: both are optional, PyExpLabSys' order kept."""
import pytest

from flubber.loggers import ContinuousLogger, LoggerConfigurationError


def test_keywords_without_username_and_password_log_into_sqlite(sqlite_setup):
    logger = ContinuousLogger(url=sqlite_setup.url, table=sqlite_setup.table,
                              measurement_codenames=sqlite_setup.codenames).start()
    logger.enqueue_point_now("test_a", 1.5)
    assert logger.stop() == 0
    assert sqlite_setup.values() == [1.5]


def test_keywords_without_username_and_password_log_into_mariadb_with_the_url_account(mysql_setup):
    mysql_setup.create()
    logger = ContinuousLogger(url=mysql_setup.url, table=mysql_setup.table,
                              measurement_codenames=mysql_setup.codenames).start()
    logger.enqueue_point_now(mysql_setup.codenames[0], 2.5)
    assert logger.stop() == 0
    assert mysql_setup.values() == [2.5]


def test_the_pyexplabsys_positional_order_still_works(sqlite_setup):
    logger = ContinuousLogger(sqlite_setup.table, "dummy", "dummy", sqlite_setup.codenames,
                              url=sqlite_setup.url).start()
    logger.enqueue_point_now("test_b", 3.0)
    assert logger.stop() == 0
    assert sqlite_setup.values() == [3.0]


def test_forgotten_codenames_say_what_to_pass():
    with pytest.raises(LoggerConfigurationError, match=r"needs measurement_codenames, the codenames it may log"):
        ContinuousLogger("dateplots_lab", url="sqlite:///x.sqlite3")
