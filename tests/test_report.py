"""`irsim report`: pages for a job, a recommendation, a sweep and an autoscaling what-if, opened
in headless Chromium (Debian's `chromium`, installed by .ci/run) at 1280 and at 390 pixels wide.
Each page leads with its answer, renders its caveat columns and interactive charts (plotly.js
from the one script beside the pages) with every image loaded, no console error, nothing wider
than the window, and no request to any host: Chromium runs behind a local proxy that records
every request it is asked to make, and a control page shows the proxy would see one. A page
alone (without the script) still shows every chart, as its PNG, and weighs far less than 5 MB."""

import base64
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from irsim.cli.app import main
from irsim.present.html import SCRIPT, build_report
from irsim.present.tables import describe_table
from irsim.present.webcharts import PLOTLY_FILE
from irsim.service.result import JobDocument
from simulator import InputError

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Chromium's own background traffic (clock, updates, safe browsing), not the page's.
CHROMIUM_OWN = re.compile(r"[./](google\.com|googleapis\.com|gvt1\.com|gstatic\.com)[:/ ]")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


class RecordingProxy:
    """A local HTTP proxy that answers nothing and records the first line of every request."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    line = connection.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                except OSError:
                    line = "?"
                self.requests.append(line)
                connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def close(self):
        self.server.close()


def open_in_chromium(page: Path, proxy_port: int | None = None, width: int = 1280) -> tuple[str, str]:
    """The DOM after load in a window ``width`` pixels wide, and Chromium's log (console messages included)."""
    proxy = ([f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
             if proxy_port else [])
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-domain-reliability", "--no-pings", *proxy,
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000",
             f"--window-size={width},900",
             "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    return process.stdout, process.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and ("Uncaught" in line or ":ERROR:" in line
                                                                        or "error" in line.lower())]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    assert main(["run", str(EXAMPLES / "stairs-job.json"), "--quiet", "--out", str(folder / "job")]) == 0
    assert main(["recommend", str(EXAMPLES / "seed-advanced-job.json"), "--serverless", "--out",
                 str(folder / "rec")]) == 0
    sweep = folder / "sweep.json"
    sweep.write_text(json.dumps({"base": str(EXAMPLES / "seed-advanced-job.json"), "axes": {
        "instance_types": [["ml.c5.large", "ml.c5.xlarge"]], "target_per_minute": [3000, 12000],
        "slo": ["P95=20"], "service_scale": [1.0, 1.3], "replications": [2]}}))
    assert main(["sweep", str(sweep), "--workers", "1", "--out", str(folder / "sweep")]) == 0
    assert main(["autoscale", str(folder / "job"), "--traffic", "diurnal:peak=30000,trough=3000,days=1", "--out",
                 str(folder / "auto")]) == 0
    result = {}
    for name in ("job", "rec", "sweep", "auto"):
        assert main(["report", str(folder / name), "-o", str(folder / f"{name}.html")]) == 0
        result[name] = folder / f"{name}.html"
    return result


def external_references(text: str) -> list[str]:
    """src/href attributes and CSS url() of the page's markup that point at a host (plotly.js's
    own code names URLs in strings, for map tiles it never loads here: what it requests at run
    time is what the proxy test checks)."""
    text = re.sub(r"<script>.*?</script>", "<script></script>", text, flags=re.S)
    return re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//[^"\'\s>]+', text) + re.findall(
        r'url\(\s*["\']?(?:https?:)?//[^)]+\)', text)


def test_pages_are_self_contained_and_light(pages):
    for name, page in pages.items():
        text = page.read_text()
        assert external_references(text) == [], name
        images = re.findall(r'<img [^>]*src="([^"]+)"', text)
        assert images and all(src.startswith("data:image/png;base64,") for src in images), name
        for src in images:
            assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
        assert "* plotly.js v" not in text and page.stat().st_size < 500_000, name  # was 5 MB with plotly.js inlined
        if name != "auto":  # the charts' script is one file beside the pages, referenced by a relative name
            assert f'<script src="{PLOTLY_FILE}"></script>' in text and 'class="plotly-figure"' in text
            assert "* plotly.js v" in (page.parent / PLOTLY_FILE).read_text()[:2000]
    assert external_references('<img src="https://example.com/x.png">') != []  # the check can fail


def test_the_job_page_says_what_the_console_says(pages, capsys):
    text = pages["job"].read_text()
    assert 'class="headline">Cheapest that meets P99 &lt;= 20 ms in production at 30,000 invocations/min' in text
    for header in ("Endpoint", "Instances", "MaxInvocations (per min)", "P99 latency (ms)", "Cost per hour",
                   "Calibrated", "Price", "In production"):
        assert f"<th>{header}</th>" in text
    assert "max_invocations" not in text and "e-0" not in re.sub(r"<script>.*?</script>", "", text, flags=re.S)
    assert "NO (derived)" in text and "not confirmed AWS list prices" in text and "derived by scaling rules" in text
    assert "ml.c5.xlarge [OMP_NUM_THREADS=1]" in text and "ml.c5.xlarge [OMP_NUM_THREADS=2]" in text
    for fact in ("Traffic pattern", "STAIRS: 10 steps", "MaxInvocations target", "30,000 invocations/min", "Seed",
                 "bundled demo", "irsim"):
        assert fact in text
    # the same order as the console
    describe = json.loads((pages["job"].parent / "job" / "describe.json").read_text())
    document = JobDocument.from_json(json.loads((pages["job"].parent / "job" / "irsim.json").read_text()))
    console = [line.split()[1] + (" " + line.split()[2] if line.split()[2].startswith("[") else "")
               for line in describe_table(describe, document, wide=True).splitlines()
               if re.match(r"^ +\d+  ml\.", line)]
    rows = re.findall(r"<tr[^>]*><td class=\"num\">\d+</td><td>([^<]+)</td>", text)
    assert rows == console and len(rows) == 4


def test_every_page_leads_with_its_answer_and_says_what_the_console_says(pages):
    rec = pages["rec"].read_text()
    assert 'class="headline">Verified cheapest at' in rec and "Cost per inference" in rec
    assert "throttled in the first minute from cold" in rec and "in the first minute from cold (MaxConcurrency" in rec
    assert "Order: the verified cheapest first" in rec and "simulations:" in rec
    sweep = pages["sweep"].read_text()
    assert "<th>service scale</th>" in sweep and "Where the cheapest choice changes" in sweep
    assert re.search(r'class="headline">\d+ scenarios: \d+ answered with an endpoint', sweep)
    assert "<li>target 3,000/min: " in sweep and "<li>service time x1.3: " in sweep and "SLO P95" not in sweep
    auto = pages["auto"].read_text()
    assert re.search(r'class="headline">Scale ml\.c5\.large between \d+ and \d+ instances at a target of [\d,]+ '
                     r"invocations per instance per minute: \$[\d.]+ over the 1,440-minute curve, \d+% less than", auto)
    assert ".000<" not in auto and re.search(r'<td class="num">\d{1,3}(,\d{3})*</td>', auto)  # 15,009, not 15009.000


@needs_chromium
def test_pages_render_in_headless_chromium_with_charts_and_no_requests(pages, tmp_path):
    proxy = RecordingProxy()
    try:
        for name, page in pages.items():
            for width in (1280, 390):
                dom, log = open_in_chromium(page, proxy.port, width)
                assert 'data-images-loaded="true"' in dom, (name, width)
                assert 'data-overflow="false"' in dom, (name, width)  # nothing wider than the window
                assert 'class="headline"' in dom, (name, width)
                if name != "auto":  # plotly drew the chart
                    assert 'data-charts-drawn="true"' in dom and 'class="main-svg"' in dom, (name, width)
                assert console_errors(log) == [], (name, width)
        job_dom, _ = open_in_chromium(pages["job"], proxy.port)
        assert "Cheapest that meets P99" in job_dom and "<th>In production</th>" in job_dom
        page_requests = [r for r in proxy.requests if not CHROMIUM_OWN.search(r)]
        assert page_requests == []  # no page asked for anything from any host
        # Controls: a page that fetches is seen by the proxy; a broken image and a script error are caught.
        fetching = tmp_path / "fetching.html"
        fetching.write_text('<html><body><img src="http://example.invalid/x.png"></body></html>')
        open_in_chromium(fetching, proxy.port)
        assert any("example.invalid" in r for r in proxy.requests)
    finally:
        proxy.close()
    broken = tmp_path / "broken.html"
    broken.write_text(f"<html><head><script>{SCRIPT}</script></head><body><img src='data:image/png;base64,AAAA'>"
                      "<script>undefinedFunction();</script></body></html>")
    dom, log = open_in_chromium(broken)
    assert 'data-images-loaded="false"' in dom and console_errors(log)
    wide = tmp_path / "wide.html"  # the overflow mark can fail
    wide.write_text(f"<html><head><script>{SCRIPT}</script></head><body><div style='width:900px'>x</div></body></html>")
    assert 'data-overflow="true"' in open_in_chromium(wide, width=390)[0]
    alone = tmp_path / "alone" / "job.html"  # without the script beside it the page shows its charts as PNGs
    alone.parent.mkdir()
    alone.write_text(pages["job"].read_text())
    dom, log = open_in_chromium(alone, width=390)
    assert 'data-charts-drawn="false"' in dom and '<details class="still" open=""' in dom and console_errors(log) == []


def test_report_of_an_unknown_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "holds no describe.json (irsim run --out), recommendation.json" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(InputError, match=r"holds no describe.json \(a job's run\), recommendation.json") as info:
        build_report(tmp_path)  # the library names what writes each file, not a command's flag
    assert "--" not in str(info.value)
