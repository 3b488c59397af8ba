#!/usr/bin/env python3
"""The dashboard in headless Chromium (driven through chromedriver with selenium), run by
Tests/TendIntegrationTests/WebTests.swift against a real manager and tend web:

    dashboard.py BASE_URL TOKEN SCREENSHOT_DIR

It logs in with the token, finds the units, clicks restart and sees web.service's main pid change, starts
crash.service and sees its row turn red without a reload, sees a line the service writes appear in the live
log view within a second, searches the log, and saves screenshots at laptop and phone sizes, light and dark.
Exits 0 when every check held; otherwise prints the failed check and exits 1.
"""
import json
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

base, token, shots = sys.argv[1], sys.argv[2], sys.argv[3]


def api(path, method="GET"):
    req = urllib.request.Request(base + path, method=method, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def fail(what):
    print("FAILED: " + what)
    try:
        driver.save_screenshot(f"{shots}/failure.png")
        print(driver.current_url)
        print(driver.find_element(By.TAG_NAME, "body").text[:2000])
    except Exception as e:
        print(f"(no screenshot: {e})")
    sys.exit(1)


def until(driver, what, condition, timeout=10):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.02,
                             ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition(d))
    except Exception:
        fail(what)


opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900",
          "--no-first-run", "--disable-extensions"]:
    opts.add_argument(a)
opts.binary_location = sys.argv[4] if len(sys.argv) > 4 else "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service(sys.argv[5] if len(sys.argv) > 5 else "/usr/bin/chromedriver"), options=opts)
driver.set_page_load_timeout(20)


def size(w, h):
    # The viewport, not the window: set through the DevTools protocol, as a phone would report it.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 700})


def scheme(dark):
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})


def click(css):
    """A real click on the element; found again if the page replaced it meanwhile."""
    for _ in range(50):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.02)
    fail("cannot click " + css)


def row(d, unit):
    rows = d.find_elements(By.CSS_SELECTOR, f'#units tbody tr[data-unit="{unit}"]')
    return rows[0] if rows else None


try:
    size(1366, 900)
    scheme(False)
    driver.get(base + "/")
    until(driver, "the login page", lambda d: d.find_elements(By.ID, "token"))
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(driver, "the unit list lists web.service and crash.service",
          lambda d: row(d, "web.service") is not None and row(d, "crash.service") is not None)
    until(driver, "the live-update stream connects", lambda d: "on" in d.find_element(By.ID, "live").get_attribute("class"))
    driver.execute_script("window.__sameDocument = 1")

    old = api("/api/v1/units/web.service")["unit"]["mainPID"]
    until(driver, "the list shows web.service's pid", lambda d: row(d, "web.service").find_element(By.CLASS_NAME, "pid").text == str(old))
    click('#units tr[data-unit="web.service"] button[data-act=restart]')
    until(driver, "restart changes the main pid shown",
          lambda d: (lambda t: t not in ("", str(old)))(row(d, "web.service").find_element(By.CLASS_NAME, "pid").text))
    new = api("/api/v1/units/web.service")["unit"]["mainPID"]
    if new == old:
        fail("the manager's main pid did not change")
    until(driver, f"the list shows the manager's new pid {new}",
          lambda d: row(d, "web.service").find_element(By.CLASS_NAME, "pid").text == str(new))

    # crash.service failed once already (it ran at boot); started again it is active for a second, then fails.
    click('#units tr[data-unit="crash.service"] button[data-act=start]')
    until(driver, "crash.service is shown active after the start",
          lambda d: row(d, "crash.service").get_attribute("data-state") == "active")
    until(driver, "crash.service turns red (failed) without a reload",
          lambda d: "failed" in (row(d, "crash.service").get_attribute("class") or ""), timeout=15)
    if driver.execute_script("return window.__sameDocument") != 1:
        fail("the page was reloaded")
    style = 'getComputedStyle(document.querySelector(\'#units tr[data-unit="crash.service"] .badge\'))'
    colour = driver.execute_script(f"return {style}.color + ' on ' + {style}.backgroundColor")
    if "200, 50, 43" not in colour and "255, 107, 97" not in colour:
        fail(f"the failed badge is not red: {colour}")
    until(driver, "the last exit is shown as systemctl says it",
          lambda d: row(d, "crash.service").find_element(By.CLASS_NAME, "exit").text.strip() == "code=exited, status=3/NOTIMPLEMENTED")

    # Filters.
    driver.find_element(By.ID, "filter").send_keys("crash")
    until(driver, "the name filter", lambda d: row(d, "web.service") is None and row(d, "crash.service") is not None)
    driver.find_element(By.ID, "filter").clear()
    driver.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
    until(driver, "the filter cleared", lambda d: row(d, "web.service") is not None)

    driver.save_screenshot(f"{shots}/overview-laptop.png")
    scheme(True)
    driver.save_screenshot(f"{shots}/overview-laptop-dark.png")
    scheme(False)
    size(390, 844)
    driver.save_screenshot(f"{shots}/overview-phone.png")
    size(1366, 900)

    # The unit page: live log.
    driver.get(base + "/units/web.service")
    until(driver, "the log view shows the service's line",
          lambda d: any(f"hello {new}" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log div")))
    stderr = driver.find_elements(By.CSS_SELECTOR, "#log div.stderr")
    if not stderr or "oops" not in stderr[-1].text:
        fail("stderr lines are not marked")
    click(".buttons button[data-act=restart]")
    until(driver, "the restart finishes", lambda d: "done" in d.find_element(By.ID, "message").text)
    done = time.monotonic()
    latest = api("/api/v1/units/web.service")["unit"]["mainPID"]
    until(driver, "the new process's line appears in the live log within a second",
          lambda d: any(f"hello {latest}" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log div")), timeout=1.0)
    took = time.monotonic() - done
    until(driver, "the status block shows the new pid", lambda d: str(latest) in d.find_element(By.ID, "status").text)
    if "Says hello" not in driver.find_element(By.ID, "unitfile").text:
        fail("the unit file is not shown")
    driver.save_screenshot(f"{shots}/unit-laptop.png")
    size(390, 844)
    driver.save_screenshot(f"{shots}/unit-phone.png")
    scheme(True)
    driver.save_screenshot(f"{shots}/unit-phone-dark.png")
    scheme(False)
    size(1366, 900)

    # Start-up: the SVG timeline loads and the dependency tree names the services.
    driver.get(base + "/analyze")
    until(driver, "the start-up plot loads", lambda d: d.execute_script(
        "const i = document.getElementById('plot'); return i.complete && i.naturalWidth > 0"))
    driver.save_screenshot(f"{shots}/analyze-laptop.png")
    driver.back()
    until(driver, "back on the unit page", lambda d: d.find_elements(By.ID, "grep"))

    driver.find_element(By.ID, "grep").send_keys("oops")
    until(driver, "the log search keeps only matching lines",
          lambda d: (lambda rows: len(rows) > 0 and all("oops" in r.text for r in rows))(d.find_elements(By.CSS_SELECTOR, "#log div")))
    print(json.dumps({"ok": True, "logLineSeconds": round(took, 3), "pids": [old, new, latest]}))
finally:
    driver.quit()
