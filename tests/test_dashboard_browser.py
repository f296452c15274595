"""The operations dashboard in a real browser (headless Chromium) against the running platform.

Needs Debian's ``chromium`` and ``chromium-driver`` (``scripts/test`` installs them where it can);
skipped, saying so, where they are missing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from shared.events import INGESTED_STREAM

from newsflow_cli.platform import Platform, free_port

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ADMIN_KEY = "dashboard-test-key"
FAST = {"NEWSFLOW_BLOCK_MS": "100", "NEWSFLOW_WORKERS": "1", "NEWSFLOW_ADMIN_KEY": ADMIN_KEY,
        "NEWSFLOW_WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "NEWSFLOW_WEBHOOK_RETRY_SCHEDULE_S": "0.05",
        "NEWSFLOW_WEBHOOK_CONNECT_TIMEOUT_S": "1", "NEWSFLOW_WEBHOOK_READ_TIMEOUT_S": "1",
        "NEWSFLOW_WEBHOOK_CLAIM_LEASE_S": "5", "NEWSFLOW_SUBSCRIPTION_REFRESH_S": "1"}
PlatformFactory = Callable[..., AbstractContextManager[Platform]]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not (CHROMIUM and DRIVER):
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium "
                    "chromium-driver; scripts/test does it when run as root with apt-get)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,1700"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _stories(n: int) -> bytes:
    topics = ["Central bank raises interest rates as inflation climbs in Germany",
              "Flood waters rise in Bangladesh as monsoon rains continue",
              "Champions League final in Paris draws record crowd"]
    return orjson.dumps([{
        "uri": f"urn:dashboard:{i}", "version": 1, "headline": topics[i % len(topics)],
        "body": f"{topics[i % len(topics)]}. Officials in Berlin and Dhaka said on Monday that "
                "the situation was being watched closely by the European Central Bank and "
                "the United Nations."} for i in range(n)])


def test_the_dashboard_shows_stories_flowing_and_a_dead_letter_with_its_reason(
        tmp_path: Path, redis_url: str, mongodb_uri: str, isolated_platform: PlatformFactory,
        browser: object) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    driver: WebDriver = browser  # type: ignore[assignment]
    wait = WebDriverWait(driver, 90, poll_frequency=0.25,
                         ignored_exceptions=[StaleElementReferenceException])

    def text(selector: str) -> str:
        # The page redraws every poll: an element found just before a redraw is gone after it.
        for _ in range(20):
            try:
                found = driver.find_elements(By.CSS_SELECTOR, selector)
                return found[0].text if found else ""
            except StaleElementReferenceException:
                continue
        return ""

    def number(selector: str) -> int:
        value = text(selector).replace(",", "")
        return int(value) if value.isdigit() else -1

    def rate(selector: str) -> float:
        try:
            return float(text(selector))
        except ValueError:  # "-": not two samples yet
            return -1.0

    with isolated_platform(tmp_path, redis_url, mongodb_uri, **FAST) as plat:
        driver.get(plat.url("publish") + "/dashboard")
        # No key yet: the page asks for it, and shows no data.
        key_input = wait.until(lambda d: d.find_element(By.ID, "admin-key"))
        assert key_input.is_displayed()
        assert text("#stages tbody") == ""
        key_input.send_keys(ADMIN_KEY)
        driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
        wait.until(lambda d: number("[data-stage=ingest] [data-field=through]") >= 0)
        before = number("[data-stage=ingest] [data-field=through]")
        published_before = number("[data-stage=webhooks] [data-field=through]")
        assert not driver.find_element(By.ID, "key-form").is_displayed()

        # A subscriber that is down: its deliveries fail and die; its row says so.
        created = httpx.post(f"{plat.url('deliver')}/v1/subscriptions", timeout=10,
                             headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                             json={"url": f"http://127.0.0.1:{free_port()}/hook"})
        assert created.status_code == 201, created.text
        subscription = created.json()["id"]
        response = plat.push(_stories(3), "application/json")
        assert response.status_code == 202, response.text
        wait.until(lambda d: number("[data-stage=ingest] [data-field=through]") == before + 3)
        # Published in one batch or several: wait for all three.
        wait.until(lambda d: all(h in text("#latest tbody") for h in (
            "Flood waters rise in Bangladesh", "Central bank raises interest rates",
            "Champions League final in Paris")))
        wait.until(lambda d: number("[data-stage=webhooks] [data-field=through]")
                   >= published_before + 3)
        # Rates come from counters sampled every few seconds: the next sample shows the push.
        wait.until(lambda d: rate("[data-stage=ingest] [data-field=rate]") > 0)
        assert driver.find_elements(By.CSS_SELECTOR, "[data-stage=ingest] svg.spark circle")

        wait.until(lambda d: "0.0 %" in text(f"[data-subscription={subscription}]"))
        hook = text(f"[data-subscription={subscription}]")
        assert "enabled" in hook and "Connection refused" in hook

        # An SSE client: publish reports it, the page counts it.
        with httpx.stream("GET", f"{plat.url('publish')}/v1/stream", timeout=60) as sse:
            assert sse.status_code == 200
            wait.until(lambda d: text("#sse-clients") == "1")

        # A poison entry: enrich dead-letters it at once; the page shows it with its reason.
        redis.Redis.from_url(redis_url).xadd(plat.stream_prefix + INGESTED_STREAM, {
            "ce_id": "poison-1", "ce_type": "news.article.bogus", "ce_subject": "urn:poison"})
        wait.until(lambda d: "unknown event type" in text("#dead-letters tbody"))
        row = text("#dead-letters tbody")
        assert "enrich" in row and "urn:poison" in row
        assert number("[data-stage=enrich] [data-field=dead-letters]") == 1
        wait.until(lambda d: text("[data-stage=enrich] [data-field=status]") == "red")
        assert "attention: enrich" in text("#overall")
        # The key stays for this tab: a reload needs no second login.
        driver.refresh()
        wait.until(lambda d: "urn:poison" in text("#dead-letters tbody"))
        time.sleep(0.5)  # let the sparklines and badges settle before the picture
        driver.save_screenshot(str(tmp_path / "dashboard.png"))
        driver.set_window_size(390, 1800)  # a phone
        wait.until(lambda d: d.execute_script("return window.innerWidth") <= 400)
        driver.save_screenshot(str(tmp_path / "dashboard-phone.png"))
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path / 'dashboard.png'} {tmp_path / 'dashboard-phone.png'}")
