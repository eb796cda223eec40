#!/usr/bin/env python3
"""Drives the status page in a real headless Chromium (Debian's chromium and
chromedriver through Selenium): prints one JSON object of what it saw.

  status_page_browser.py URL TOKEN SCREENSHOT -- PRODUCE_COMMAND...
"""
import json
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, token, shot = sys.argv[1], sys.argv[2], sys.argv[3]
produce = sys.argv[sys.argv.index("--") + 1:]
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-"), "--window-size=1280,1000"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
out = {}


def until(cond, limit):
    t0 = time.time()
    while time.time() - t0 < limit:
        try:
            if cond():
                return round(time.time() - t0, 2)
        except Exception:
            pass
        time.sleep(0.1)
    return None


def rows(table):
    return d.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table)


try:
    d.get(url)
    out["partitions_shown_s"] = until(lambda: len(rows("partitions")) == 3, 15)
    out["partition_rows"] = [r.text for r in rows("partitions")]
    out["live_s"] = until(lambda: d.find_element(By.ID, "mode").text == "live", 10)
    out["dlq_shown_s"] = until(lambda: len(rows("dlq")) >= 3, 10)
    out["dlq_rows"] = [r.text for r in rows("dlq")]
    polls = "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/status')).length"
    polls_before = d.execute_script(polls)
    before = d.find_element(By.ID, "partitions").text + d.find_element(By.ID, "totals").text
    subprocess.run(produce, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out["changed_after_produce_s"] = until(
        lambda: d.find_element(By.ID, "partitions").text + d.find_element(By.ID, "totals").text != before, 10)
    time.sleep(3)
    out["polls_while_live"] = d.execute_script(polls) - polls_before
    d.set_window_size(1280, 1500)
    d.execute_script("window.scrollTo(0, 0)")
    d.save_screenshot(shot)
    d.set_window_size(1280, 1000)
    out["admin_hidden_before_token"] = not d.find_element(By.ID, "admin").is_displayed()
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.ID, "use-token").click()
    out["admin_shown_with_token"] = d.find_element(By.ID, "admin").is_displayed()
    row0 = lambda: rows("partitions")[0]
    row0().find_element(By.TAG_NAME, "button").click()
    out["partition_paused_shown_s"] = until(lambda: "paused (admin" in row0().text, 10)
    out["others_not_paused"] = all("paused" not in r.text for r in rows("partitions")[1:])
    row0().find_element(By.TAG_NAME, "button").click()
    out["partition_resumed_shown_s"] = until(lambda: "paused" not in row0().text, 10)
    d.find_element(By.ID, "pause").click()
    out["paused_shown_s"] = until(lambda: any("paused" in r.text for r in rows("processes")), 10)
    d.find_element(By.ID, "resume").click()
    out["resumed_shown_s"] = until(lambda: all("running" in r.text for r in rows("processes")), 10)
    out["cookies"] = d.get_cookies()
    d.set_window_size(390, 844)   # a phone
    time.sleep(0.5)
    out["phone_overflow_px"] = d.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    logs = d.get_log("browser")
    out["console_errors"] = [l["message"][:200] for l in logs if l["level"] in ("SEVERE", "ERROR")]
    out["csp_violations"] = [l["message"][:200] for l in logs if "Content Security Policy" in l["message"]]
    # Without the stream (blocked, as a proxy that buffers it would): polling.
    d.set_window_size(1280, 1000)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/status/stream"]})
    d.get(url)
    out["fallback_polling_s"] = until(
        lambda: d.find_element(By.ID, "mode").text == "polling" and len(rows("partitions")) == 3, 10)
    first = d.find_element(By.ID, "updated").text
    out["fallback_updates_s"] = until(lambda: d.find_element(By.ID, "updated").text != first, 10)
finally:
    d.quit()
print(json.dumps(out))
