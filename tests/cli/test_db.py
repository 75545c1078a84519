"""``flubber db create-tables`` refuses a codename the pull socket could never serve."""
import pytest

from tests.processes import flubber

pytestmark = pytest.mark.timeout(60)


def test_create_tables_refuses_a_codename_with_a_comma_and_creates_nothing(tmp_path):
    database = tmp_path / "lab.sqlite"
    result = flubber("db", "create-tables", "dateplots_lab", "good", "bad,name", "--url", "sqlite:///%s" % database)
    assert result.returncode == 2
    assert result.stderr == ("flubber db create-tables: codename 'bad,name' contains ','; codenames may not contain "
                             "any of # , ; : & (the pull socket serves codenames by these characters)\n")
    assert not database.exists()


def test_create_tables_accepts_codenames_the_pull_socket_serves(tmp_path):
    result = flubber("db", "create-tables", "dateplots_lab", "oven_t1", "oven_t2=Oven, zone 2",
                     "--url", "sqlite:///%s" % (tmp_path / "lab.sqlite"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "oven_t1 1\noven_t2 2\n"
