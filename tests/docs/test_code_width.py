"""Code blocks of the HTML docs show whole in a 1280 px browser window: no sideways scrolling.

docs/conf.py widens the page and shrinks the code font so MAX_CODE_COLUMNS characters fit;
the first test keeps every literal line of the pages within that, the second renders the
built pages in headless Chromium at 1280 px (when it is installed) and measures.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.processes import REPO, child_env

DOCS = os.path.join(REPO, "docs")
#: Pages whose literal blocks are saved benchmark tables, wider than any window by nature.
EXEMPT = {"benchmarks.rst"}


def _max_code_columns():
    with open(os.path.join(DOCS, "conf.py")) as handle:
        return int(re.search(r"^MAX_CODE_COLUMNS = (\d+)$", handle.read(), re.M).group(1))


def _literal_lines(path):
    """Yield (line number, text) of every line inside a ``::`` literal block of the reST file."""
    lines = open(path, encoding="utf-8").read().splitlines()
    inside, indent = False, None
    for number, line in enumerate(lines, 1):
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            inside, indent = True, None
            continue
        if not inside or not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth == 0 or depth < indent:
            inside = False
            continue
        yield number, line[indent:]


def test_no_literal_line_is_wider_than_the_page_shows():
    limit = _max_code_columns()
    wide = []
    for path in sorted(glob.glob(os.path.join(DOCS, "*.rst"))):
        if os.path.basename(path) in EXEMPT:
            continue
        for number, text in _literal_lines(path):
            if len(text) > limit:
                wide.append("%s:%d: %d columns" % (os.path.relpath(path, REPO), number, len(text)))
    assert wide == [], "wider than MAX_CODE_COLUMNS = %d:\n%s" % (limit, "\n".join(wide))


_PROBE = """<script>
var wide = [];
document.querySelectorAll("pre").forEach(function (pre) {
  if (pre.scrollWidth > pre.clientWidth + 1) wide.push([pre.scrollWidth, pre.clientWidth, pre.textContent.slice(0, 60)]);
});
document.body.setAttribute("data-wide", JSON.stringify(wide));
document.body.setAttribute("data-pre", String(document.querySelectorAll("pre").length));
</script>
"""


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    if not shutil.which("chromium"):
        pytest.skip("TOOL MISSING: chromium is not installed (apt-get install chromium) to render the docs at 1280 px")
    out = tmp_path_factory.mktemp("html")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", DOCS, str(out)],
                            capture_output=True, text=True, timeout=300, env=child_env())
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.timeout(400)
@pytest.mark.parametrize("page", ["tutorial.html", "kvstore.html", "loggers.html", "cli.html"])
def test_code_blocks_fit_a_1280_px_window(built_docs, page):
    probe = built_docs / ("probe_" + page)
    probe.write_text((built_docs / page).read_text(encoding="utf-8") + _PROBE, encoding="utf-8")
    result = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                             "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    pre = re.search(r'data-pre="(\d+)"', result.stdout)
    assert pre and int(pre.group(1)) > 0, result.stderr[-2000:]
    wide = json.loads(re.search(r'data-wide="([^"]*)"', result.stdout).group(1).replace("&quot;", '"')
                      .replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"))
    assert wide == [], "code blocks that scroll sideways at 1280 px (scroll width, shown width, start): %r" % wide
