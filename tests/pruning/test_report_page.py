"""The HTML report as people look at it: rendered by headless Chromium at 1280 px, every plot is
shown at its natural size, as wide as the page (tests/pruning/data/report.json is the report of
a small real run)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pruning.compression import documents
from pruning.compression.report import CompressionReport

REPORT = Path(__file__).parent / "data" / "report.json"
WINDOW = (1280, 4000)
# Writes each image's natural and shown size into the page once everything has loaded.
MEASURE = """<pre id='measured'></pre><script>
window.addEventListener('load', () => {
  document.getElementById('measured').textContent = JSON.stringify(
    [...document.images].map(i => ({src: i.getAttribute('src'), natural: [i.naturalWidth,
      i.naturalHeight], shown: [i.width, i.height]})));
});
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("Chromium not installed: scripts/setup_os.sh installs Debian's chromium")
    return found


def _render(chromium: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
         "--virtual-time-budget=10000", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)


def test_every_plot_is_shown_at_its_natural_size_at_1280_px(tmp_path):
    chromium = _chromium()
    report = CompressionReport.from_json(REPORT.read_text())
    paths = documents.write_documents(report, str(tmp_path / "report"))
    page = Path(paths["html"])
    measuring = page.with_name("measure.html")
    measuring.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))

    dom = _render(chromium, measuring, tmp_path / "profile", "--dump-dom").stdout
    [measured] = re.findall(r"<pre id=\"measured\">(.*?)</pre>", dom, re.S)
    images = {image["src"]: image for image in json.loads(measured)}
    assert set(images) == set(documents.PLOTS.values())
    for src, image in images.items():
        assert image["natural"][0] == documents.FIGURE_PX, src  # as wide as the page
        assert image["shown"] == image["natural"], src

    shot = tmp_path / "page.png"
    _render(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    from PIL import Image

    with Image.open(shot) as picture:
        assert picture.size == WINDOW
