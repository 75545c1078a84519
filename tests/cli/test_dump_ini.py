"""``flubber dump`` of an INI file with a misspelt section is an error that names the section it meant."""
import pytest

from tests.processes import flubber

pytestmark = pytest.mark.timeout(60)


def test_a_misspelt_dump_section_exits_2_with_did_you_mean(tmp_path):
    ini = tmp_path / "lab.ini"
    ini.write_text("[dmp]\ntimeout = 1\nkernel = uname -a\n")
    result = flubber("dump", str(ini), cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == ("flubber dump: error: %s: [dmp]: unknown section; did you mean 'dump'?; a dump file has the "
                             "sections [dump], [device], [dump_options]\n" % ini)
    assert "no dumps configured" not in result.stdout
