"""``flubber plot``: an output path that cannot be written is named as such, not blamed on the database."""
import pytest

from tests.processes import flubber

pytestmark = pytest.mark.timeout(120)


def test_plot_into_a_missing_folder_names_the_folder_not_the_database(lab_sqlite, tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "x.png"
    result = flubber("plot", lab_sqlite, "temperature", "-o", str(target))
    assert result.returncode == 2
    assert "cannot write %s: the folder %s does not exist" % (target, target.parent) in result.stderr
    assert "cannot read" not in result.stderr and "Traceback" not in result.stderr


def test_plot_onto_a_folder_says_the_png_cannot_be_written(lab_sqlite, tmp_path):
    folder = tmp_path / "x.png"
    folder.mkdir()
    result = flubber("plot", lab_sqlite, "temperature", "--since", "all", "-o", str(folder))
    assert result.returncode == 1
    assert "cannot write the PNG %s: Is a directory" % folder in result.stderr
    assert "cannot read" not in result.stderr


def test_plot_writes_the_png_and_counts_the_points(lab_sqlite, tmp_path):
    target = tmp_path / "x.png"
    result = flubber("plot", lab_sqlite, "temperature", "--since", "all", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "%s: 3 points of temperature" % target
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
