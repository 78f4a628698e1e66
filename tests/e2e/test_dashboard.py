"""End to end: the dashboard in headless Chromium (Debian package + Playwright, no `playwright install`).

A real uvicorn server on a free port serves the app; the page must draw its charts with data, fill
the signal and model panels, list every followed pair (PAIRS) in the screener table and the pair
selector, receive a live SSE event and show the disclaimer. A screenshot is saved
under the test's tmp dir (and to $E2E_SCREENSHOT_DIR when set).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from crypto_mlops.api.app import create_app
from crypto_mlops.service import CryptoService
from tests.service.fixtures import UvicornThread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SCREENER_ROWS = """
[...document.querySelectorAll('#screener-table tbody tr[data-pair]')]
  .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))
"""

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"
)


def test_dashboard_renders_charts_with_data(service: CryptoService, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    service.feed.interval_s = 1.0  # type: ignore[attr-defined]  # live panel: one event per second
    with UvicornThread(create_app(service, start_service=False)) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1900})
            console_errors: list[str] = []
            page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
            requests: list[str] = []
            page.on("request", lambda req: requests.append(req.url))
            page.goto(server.url + "/", wait_until="domcontentloaded")
            page.wait_for_function("document.body.dataset.ready === 'yes'", timeout=90_000)

            # Charts drawn by plotly with data from the API.
            candles = page.evaluate("document.getElementById('candles').data[0]")
            assert candles["type"] == "candlestick" and len(candles["x"]) == 200
            assert page.locator("#candles .main-svg").count() > 0
            shapes = page.evaluate("document.getElementById('candles').layout.shapes.length")
            assert shapes >= 1  # heuristic regime bands
            vol = page.evaluate("document.getElementById('volchart').data.map(t => t.y.filter(v => v !== null).length)")
            assert vol[0] > 10 and vol[1] > 5  # predicted and realized RV24 points

            # Side-by-side signals, model info, disclaimer.
            assert page.locator("#heuristic .big").inner_text().strip() != ""
            assert "%" in page.locator("#ml .big").inner_text()
            model_info = page.locator("#model-info").inner_text().lower()
            assert "har" in model_info and "engine" in model_info and "numpy" in model_info
            assert page.locator("#disclaimer").is_visible()
            assert "Research only" in page.locator("#disclaimer").inner_text()

            # Screener table: one row per followed pair (PAIRS), each with its own numbers and model.
            page.wait_for_function("document.body.dataset.screener === 'yes'", timeout=90_000)
            followed = service.screener.pairs().pairs
            assert followed == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
            rows = page.evaluate(SCREENER_ROWS)
            assert sorted(r[0] for r in rows) == followed
            assert len({r[1] for r in rows}) == len(rows)  # predicted RV24 differs per pair
            for pair, rv, q10, q50, q90, regime, risk, model, candle in rows:
                assert all(v.endswith("%") for v in (rv, q10, q50, q90)), pair
                assert regime in {"calm", "normal", "turbulent"} and risk.split()[1] in {"low", "medium", "high"}
                assert "har" in model and candle.endswith("Z")  # the model that produced this pair's row
            # The pair selector lists PAIRS; a click on a screener row charts that pair.
            assert page.eval_on_selector_all("#symbol option", "os => os.map(o => o.value)") == followed
            page.click("#screener-table tr[data-pair='ETH/USDT']")
            page.wait_for_function("document.getElementById('candles').data[0].name === 'ETH/USDT'", timeout=60_000)
            assert page.locator("#screener-table tr.selected").get_attribute("data-pair") == "ETH/USDT"
            page.wait_for_function("document.body.dataset.ready === 'yes'", timeout=60_000)

            # Recording a signal shows it in the history table.
            page.click("#btn-signal")
            page.wait_for_function("document.querySelectorAll('#signals-table tbody tr td').length > 1", timeout=30_000)

            # Live panel fed by the SSE endpoint.
            page.wait_for_function("document.querySelectorAll('#live-events li').length >= 1", timeout=60_000)
            assert "live" in page.locator("#live-state").inner_text()

            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
            if os.environ.get("E2E_SCREENSHOT_DIR"):
                out = Path(os.environ["E2E_SCREENSHOT_DIR"])
                out.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, out / "dashboard.png")

            # No CDN or third-party request, no JS errors.
            assert all(url.startswith(server.url) for url in requests), [
                u for u in requests if not u.startswith(server.url)
            ]
            assert console_errors == []
        finally:
            browser.close()
