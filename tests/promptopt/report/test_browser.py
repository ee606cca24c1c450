"""`promptopt report` on a tiny study, loaded in headless Chromium: no resource fails to load, no script error,
every image decodes, and a screenshot is saved (into $PROMPTOPT_SCREENSHOT_DIR when set: `docs/report.png` in
the README comes from this test). Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages ending in NUL on fds 3 and 4), with the standard library only.

Skipped when no Chromium is installed, unless $PROMPTOPT_TEST_CHROMIUM names one (.ci/chromium.sh installs
Debian's and sets it, so CI runs it)."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptopt.cli import app

CHROMIUM = os.environ.get("PROMPTOPT_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-pipe")  # fmt: skip
TIMEOUT_S = 60  # for any one message: a page that never loads fails the test instead of hanging CI
runner = CliRunner()


class DevTools:
    """A Chromium started with --remote-debugging-pipe, and the events it sent while waiting for replies."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def on_fds_3_and_4() -> None:
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=on_fds_3_and_4,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer, self._next_id, self.events = b"", 0, []

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if not select.select([self._from_chrome], [], [], TIMEOUT_S)[0]:
                raise TimeoutError(f"Chromium sent nothing for {TIMEOUT_S} s")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message = {
            "id": self._next_id,
            "method": method,
            "params": params,
            **({"sessionId": session} if session else {}),
        }
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._receive())

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        self.process.wait(timeout=30)
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def _tiny_study_report(make_study_dict, reference, tmp_path: Path) -> Path:
    """A 4-trial study of gi-sim-tiny (the shipped tiny model: images worth a look in the screenshot) for a Paris Is
    polyp, with the GI-sim judge (so it has a hold-out check), and its report."""
    from promptopt.core.tomlio import dumps

    data = make_study_dict(str(reference))
    data["generator"] = {"model": "gi-sim-tiny", "height": 64, "width": 64, "device": "cpu"}
    data["mutator"]["steps"] = [8]
    data["scorers"]["judge"] = {"model": "gi-sim"}
    data["study"] = {**data["study"], "images_per_trial": 6, "target": {"polyp_types": ["is"]}}
    data["export"] = {**data["export"], "holdout_images": 4}
    study = tmp_path / "study.toml"
    study.write_text(dumps(data))
    result = runner.invoke(app, ["search", "--study", str(study), "--out", str(tmp_path / "runs"), "-n", "4"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(tmp_path / "runs" / "t")])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip())


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (CI installs it: .ci/chromium.sh)")
def test_the_report_loads_in_chromium_with_every_resource(make_study_dict, reference, tmp_path):
    page = _tiny_study_report(make_study_dict, reference, tmp_path)
    browser = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session)
        browser.call(
            "Emulation.setDeviceMetricsOverride", session, width=1200, height=900, deviceScaleFactor=1, mobile=False
        )
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        images = browser.call(
            "Runtime.evaluate",
            session,
            returnByValue=True,
            expression="Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)",
        )["result"]["value"]
        size = browser.call("Page.getLayoutMetrics", session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": 1200, "height": min(size["height"], 4000), "scale": 1}
        shot = browser.call("Page.captureScreenshot", session, format="png", clip=clip, captureBeyondViewport=True)
    finally:
        browser.close()
    failed = [e for e in browser.events if e.get("method") in ("Network.loadingFailed", "Runtime.exceptionThrown")]
    errors = [
        e for e in browser.events if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    requested = {
        e["params"]["request"]["url"][:5] for e in browser.events if e.get("method") == "Network.requestWillBeSent"
    }
    assert failed == [] and errors == []
    assert requested <= {"file:", "data:"}  # nothing from the network
    assert len(images) in (4, 5) and all(images)  # history, importances, 2 exported grids (+ the seed prompt's)
    folder = Path(os.environ.get("PROMPTOPT_SCREENSHOT_DIR") or tmp_path)
    (folder / "report.png").write_bytes(base64.b64decode(shot["data"]))
    assert (folder / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
