"""`irsim report`: self-contained pages for a job, a recommendation and a sweep, opened in
headless Chromium (Debian's `chromium`, installed by .ci/run) with every image loaded and
no console errors."""

import base64
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from irsim.cli.app import main

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def open_in_chromium(page: Path) -> tuple[str, str]:
    """The DOM after load and Chromium's log (console messages included)."""
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
             "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    return process.stdout, process.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and ("Uncaught" in line or ":ERROR:" in line
                                                                        or "error" in line.lower())]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    assert main(["run", str(EXAMPLES / "seed-advanced-job.json"), "--quiet", "--out", str(folder / "job")]) == 0
    assert main(["recommend", str(EXAMPLES / "seed-advanced-job.json"), "--serverless", "--out",
                 str(folder / "rec")]) == 0
    sweep = folder / "sweep.json"
    sweep.write_text(json.dumps({"base": str(EXAMPLES / "seed-advanced-job.json"), "axes": {
        "instance_types": [["ml.c5.large", "ml.c5.xlarge"]], "target_per_minute": [3000, 12000],
        "slo": ["P95=20", "P95=100"], "replications": [2]}}))
    assert main(["sweep", str(sweep), "--workers", "1", "--out", str(folder / "sweep")]) == 0
    result = {}
    for name in ("job", "rec", "sweep"):
        assert main(["report", str(folder / name), "-o", str(folder / f"{name}.html")]) == 0
        result[name] = folder / f"{name}.html"
    return result


def test_pages_are_self_contained(pages):
    for name, page in pages.items():
        text = page.read_text()
        images = re.findall(r'<img [^>]*src="([^"]+)"', text)
        assert images and all(src.startswith("data:image/png;base64,") for src in images), name
        for src in images:
            assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
        assert "http://" not in text and "https://" not in text  # nothing fetched from anywhere
    assert "verified cheapest" in pages["rec"].read_text()
    assert "Where the cheapest choice changes" in pages["sweep"].read_text()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_pages_render_in_headless_chromium_with_images_and_no_console_errors(pages, tmp_path):
    for name, page in pages.items():
        dom, log = open_in_chromium(page)
        assert 'data-images-loaded="true"' in dom, name
        assert int(re.search(r'data-image-count="(\d+)"', dom).group(1)) >= 1
        assert console_errors(log) == [], name
    # The checks can fail: a broken image and a script error are caught.
    broken = tmp_path / "broken.html"
    broken.write_text(pages["job"].read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
                      .replace("</body>", "<script>undefinedFunction();</script></body>"))
    dom, log = open_in_chromium(broken)
    assert 'data-images-loaded="false"' in dom and console_errors(log)


def test_report_of_an_unknown_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "holds no describe.json" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
