"""The demo node's page in a real browser: Debian's headless Chromium driven by Selenium.

The node runs in its own process (``flubber serve`` of the demo node file
with a write token added, on free ports); the browser loads its page from it. Skipped,
loudly, where chromium, chromedriver or selenium are not installed
(``scripts/setup.sh`` installs them). ``FLUBBER_UPDATE_SCREENSHOT=1`` also
saves the screenshot of the docs (docs/images/web-page.png).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import skip_loudly

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "browser-test-token"
SCREENSHOT = os.path.join(ROOT, "docs", "images", "web-page.png")

def _browser_parts():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        skip_loudly("Chromium", "chromium and chromium-driver are not installed (scripts/setup.sh installs them: "
                                "apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip_loudly("Selenium", "the selenium package is not installed (pip install -e '.[test]')")
    return chromium, driver


@pytest.fixture(scope="module")
def node_url(tmp_path_factory):
    """The demo node, its TCP transport given a write token, on free ports; yields its page's URL."""
    import yaml

    _browser_parts()
    folder = tmp_path_factory.mktemp("browser-node")
    with open(os.path.join(ROOT, "examples", "lab.yaml"), encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    data["tcp"] = dict(data["tcp"], tokens=[TOKEN])
    node_file = folder / "lab.yaml"
    node_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "flubber", "serve", str(node_file), "--tcp", "127.0.0.1:0", "--pull-port", "0",
         "--push-port", "0", "--share-port", "0", "--db", "sqlite:///%s" % (folder / "lab.sqlite"), "--no-status",
         "--web", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(folder))
    banner = []
    for line in process.stdout:
        banner.append(line)
        match = re.search(r"web page on (http://\S+) \(keys settable with a write token: lab.kv.setpoint\)", line)
        if match:
            break
    else:
        process.kill()
        pytest.fail("the node did not start: %s%s" % ("".join(banner), process.stderr.read()))
    try:
        yield match.group(1)
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser_parts()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1250", "--force-device-scale-factor=1", "--lang=en-GB"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout=20, message="the page did not get there"):
    """Wait for *condition*; an element redrawn under it (the page updates live) is looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)) \
        .until(lambda d: condition(d), message)


def _cell(driver, row, cell):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, 'tr[data-row="%s"] td.%s' % (row, cell)).text


def _console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def page(browser, node_url):
    browser.get(node_url)
    _wait(browser, lambda d: _cell(d, "codename:temperature", "value") not in ("", "\u2014"))
    return browser


def test_the_page_loads_with_every_row_and_no_console_errors(page):
    from selenium.webdriver.common.by import By

    rows = {row.get_attribute("data-row") for row in page.find_elements(By.CSS_SELECTOR, "tr[data-row]")}
    assert rows == {"codename:temperature", "codename:pressure", "key:lab.kv.setpoint", "key:lab.kv.temperature",
                    "key:lab.kv.pressure"}
    assert _cell(page, "codename:temperature", "unit") == "°C"
    assert page.find_element(By.ID, "node-name").text == "lab"
    _wait(page, lambda d: d.find_element(By.ID, "connection").text == "live")
    assert _console_errors(page) == []


def test_values_change_on_screen_as_the_node_runs(page):
    first = _cell(page, "codename:temperature", "value")
    changed = _wait(page, lambda d: _cell(d, "codename:temperature", "value") != first and
                    _cell(d, "codename:temperature", "value"), timeout=10)
    float(changed)
    assert re.match(r"\d+\.\d s", _cell(page, "codename:temperature", "age"))


def test_a_plot_of_the_last_minutes_has_points_and_a_csv_link(page, node_url):
    from selenium.webdriver.common.by import By

    page.find_element(By.CSS_SELECTOR, 'input[data-plot="pressure"]').click()
    page.find_element(By.CSS_SELECTOR, 'button[data-range="600"]').click()

    def points(driver):
        canvases = driver.find_elements(By.CSS_SELECTOR, "#plot-area canvas[data-points]")
        counts = [int(canvas.get_attribute("data-points")) for canvas in canvases]
        return counts if len(counts) == 2 and min(counts) >= 2 else None

    try:
        assert min(_wait(page, points, timeout=30)) >= 2
    except Exception:
        state = page.execute_script(
            "return [document.getElementById('plot-message').textContent,"
            " Array.from(document.querySelectorAll('#plot-area canvas')).map(c => c.getAttribute('data-points'))]")
        pytest.fail("no plot with points: message %r, canvases %r, console %r" % (state[0], state[1],
                                                                                  page.get_log("browser")))
    href = page.find_element(By.ID, "plot-csv").get_attribute("href")
    assert "format=csv" in href and "codename=temperature" in href
    with urllib.request.urlopen(href, timeout=10) as reply:
        lines = reply.read().decode().splitlines()
    assert lines[0] == "codename,unixtime,utc,value" and any(line.startswith("pressure,") for line in lines)
    assert _console_errors(page) == []


def test_dragging_across_a_plot_zooms_into_that_range(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    before = (page.find_element(By.ID, "plot-from").get_attribute("value"),
              page.find_element(By.ID, "plot-to").get_attribute("value"))

    def drag(driver):  # the plot is redrawn every 15 s: a canvas gone stale is looked up again
        canvas = driver.find_element(By.CSS_SELECTOR, '#plot-area .plot[data-codename="temperature"] canvas')
        width = canvas.size["width"]
        ActionChains(driver).move_to_element_with_offset(canvas, int(width * 0.2), 0).click_and_hold() \
            .move_by_offset(int(width * 0.25), 0).release().perform()
        return True

    _wait(page, drag)
    reset = page.find_element(By.ID, "plot-reset")
    _wait(page, lambda d: reset.is_enabled())
    after = (page.find_element(By.ID, "plot-from").get_attribute("value"),
             page.find_element(By.ID, "plot-to").get_attribute("value"))
    assert after != before and before[0] <= after[0] < after[1] <= before[1]   # a narrower window
    _wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#plot-area canvas[data-points]")) == 2)
    reset.click()
    _wait(page, lambda d: not reset.is_enabled())
    assert _console_errors(page) == []


def _set_from_page(page, value, token):
    from selenium.webdriver.common.by import By

    field = page.find_element(By.ID, "token")
    field.clear()
    if token:
        field.send_keys(token)
    box = page.find_element(By.CSS_SELECTOR, 'input[data-set="lab.kv.setpoint"]')
    box.clear()
    box.send_keys(str(value))
    page.find_element(By.CSS_SELECTOR, 'button[data-set-button="lab.kv.setpoint"]').click()
    return _wait(page, lambda d: (lambda text: text if text.startswith(("lab.kv.setpoint set", "not set")) else None)(
        d.find_element(By.ID, "set-message").text))


def _setpoint(node_url, expected):
    """The setpoint /api/values shows, once it is *expected* (it is sampled every 0.5 s) or after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        with urllib.request.urlopen(node_url + "api/values", timeout=10) as reply:
            rows = {row["id"]: row for row in json.load(reply)["rows"]}
        value = rows["key:lab.kv.setpoint"]["value"]
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_a_set_from_the_page_needs_the_token(page, node_url):
    message = _set_from_page(page, 31, token=None)
    assert "a write token is needed" in message
    assert _setpoint(node_url, 31) == 25
    message = _set_from_page(page, 50, token="not-the-token")
    assert "not one of this node's" in message
    assert _setpoint(node_url, 50) == 25
    message = _set_from_page(page, 45, token=TOKEN)
    assert message == "lab.kv.setpoint set to 45"
    assert _setpoint(node_url, 45) == 45
    _wait(page, lambda d: _cell(d, "key:lab.kv.setpoint", "value") == "45", timeout=10)
    # a refused request (401/403) is logged by the browser as a console error: that is the page working


def test_a_screenshot_of_the_page(page, tmp_path):
    from selenium.webdriver.common.by import By

    _wait(page, lambda d: d.find_element(By.ID, "status-body").text.count("instrument") == 2)
    # plot what the node logged since it started (a few seconds, not a mostly empty 10 minutes)
    page.execute_script(
        "var to = new Date(Date.now() + 2000), from = new Date(Date.now() - 20000);"
        "function local(d) { return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }"
        "document.getElementById('plot-from').value = local(from);"
        "document.getElementById('plot-to').value = local(to);"
        "document.getElementById('plot-apply').click();")
    _wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#plot-area canvas[data-points]")) == 2)
    path = str(tmp_path / "web-page.png")
    assert page.save_screenshot(path)
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("FLUBBER_UPDATE_SCREENSHOT"):
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        shutil.copyfile(path, SCREENSHOT)


def _api_set(node_url, value):
    request = urllib.request.Request(node_url + "api/set", data=json.dumps({"key": "lab.kv.setpoint", "value": value})
                                     .encode(), headers={"Content-Type": "application/json",
                                                         "Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def _alarm_cell(driver, name, cell):
    """The text of an alarm row's cell ("" while the panel is being redrawn by a live update)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.CSS_SELECTOR, 'tr[data-alarm="%s"] td.%s' % (name, cell)).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def _click_ack(driver, name):
    """Click the row's acknowledge button; True once clicked (a redraw between find and click retries)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        driver.find_element(By.CSS_SELECTOR, 'button[data-ack="%s"]' % name).click()
        return True
    except (NoSuchElementException, StaleElementReferenceException):
        return False


def test_the_oven_set_too_hot_shows_a_major_alarm_acknowledged_with_the_token(page, node_url, tmp_path):
    """Runs last: it heats the demo oven past its alarm limits, then cools it down again."""
    from selenium.webdriver.common.by import By

    section = page.find_element(By.ID, "alarms")
    _wait(page, lambda d: section.is_displayed())
    assert _alarm_cell(page, "temperature", "severity") == "OK"
    _api_set(node_url, 200)
    _wait(page, lambda d: _alarm_cell(d, "temperature", "severity") == "MAJOR", timeout=90,
          message="the alarm did not go MAJOR on the page")
    assert page.find_element(By.ID, "alarm-worst").text == "MAJOR"
    assert "above hihi 90" in _alarm_cell(page, "temperature", "why")
    color = page.execute_script("return getComputedStyle(document.querySelector("
                                "'tr[data-alarm=\"temperature\"] td.severity')).backgroundColor")
    assert color == "rgb(246, 214, 211)"   # the MAJOR colour of style.css

    field = page.find_element(By.ID, "token")
    field.clear()
    _wait(page, lambda d: _click_ack(d, "temperature"))
    _wait(page, lambda d: "not acknowledged" in d.find_element(By.ID, "alarm-message").text)
    assert "a write token is needed" in page.find_element(By.ID, "alarm-message").text
    field.send_keys(TOKEN)
    _wait(page, lambda d: _click_ack(d, "temperature"))
    _wait(page, lambda d: _alarm_cell(d, "temperature", "ack") == "acknowledged")
    with urllib.request.urlopen(node_url + "api/alarms", timeout=10) as reply:
        alarm = json.load(reply)["alarms"][0]
    assert (alarm["name"], alarm["severity"], alarm["acknowledged"]) == ("temperature", "MAJOR", True)
    path = str(tmp_path / "web-alarm.png")
    assert page.save_screenshot(path)
    if os.environ.get("FLUBBER_UPDATE_SCREENSHOT"):
        shutil.copyfile(path, os.path.join(ROOT, "docs", "images", "web-alarm.png"))
    _api_set(node_url, 25)
    _wait(page, lambda d: _alarm_cell(d, "temperature", "severity") == "OK", timeout=120,
          message="the alarm did not clear on the page")
