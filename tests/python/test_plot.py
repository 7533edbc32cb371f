"""PowerMonitor.plot on the real package: a power timeline recorded by our PowerMonitor over the
fake NVML (and windows measured by ZeusMonitor) drawn with matplotlib (PNG, SVG, PDF) and, with
matplotlib made unimportable, as libzeus's own SVG (zeus_plot_power_svg). Each picture is checked
as an image: the PNG's IHDR size, the SVG parsed with xml.etree (size, one series per GPU,
the windows)."""

from __future__ import annotations

import struct
import sys
import time
import xml.etree.ElementTree as ET
import zlib

import pytest

from zeus.monitor import PowerMonitor, ZeusMonitor

SVG = "{http://www.w3.org/2000/svg}"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    (crc,) = struct.unpack(">I", data[16 + length:20 + length])
    assert zlib.crc32(data[12:16 + length]) == crc
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A PowerMonitor that sampled GPUs 0 and 2 around one ZeusMonitor window (also logged)."""
    log = tmp_path_factory.mktemp("plot") / "windows.csv"
    power = PowerMonitor(gpu_indices=[0, 2], update_period=0.02)
    energy = ZeusMonitor(gpu_indices=[0, 2], log_file=str(log))
    time.sleep(0.15)
    energy.begin_window("step", sync_execution=False)
    time.sleep(0.25)
    step = energy.end_window("step", sync_execution=False)
    time.sleep(0.15)
    yield power, step, log
    power.stop()


def test_matplotlib_png_has_the_asked_size_and_one_line_per_gpu(recorded, tmp_path):
    from matplotlib.figure import Figure

    power, step, _ = recorded
    figure = power.plot(tmp_path / "p.png", windows={"step": step})
    assert isinstance(figure, Figure)
    assert png_size(tmp_path / "p.png") == (960, 540)
    ax = figure.axes[0]
    series = [line.get_gid() for line in ax.get_lines()]
    assert series == ["series-gpu0", "series-gpu2"]
    assert [p.get_gid() for p in ax.patches] == ["window-step"]
    power.plot(tmp_path / "q.png", width=640, height=480, title="two GPUs")
    assert png_size(tmp_path / "q.png") == (640, 480)


def test_matplotlib_svg_and_pdf(recorded, tmp_path):
    power, step, _ = recorded
    power.plot(tmp_path / "p.svg", windows=[("step", step.start_time, step.start_time + step.time)])
    root = ET.parse(tmp_path / "p.svg").getroot()
    assert root.tag == SVG + "svg"
    # matplotlib writes points (72 per inch) at our 100 dpi.
    assert root.get("width") == "691.2pt" and root.get("height") == "388.8pt"
    ids = [g.get("id") for g in root.iter(SVG + "g") if (g.get("id") or "").startswith("series-")]
    assert ids == ["series-gpu0", "series-gpu2"]
    assert any(g.get("id") == "window-step" for g in root.iter(SVG + "g"))
    power.plot(tmp_path / "p.pdf")
    assert (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-"


def _libzeus_svg(path, columns, windows):
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    assert (root.get("width"), root.get("height")) == ("960", "540")
    lines = [p for p in root.iter(SVG + "polyline") if p.get("class") == "series"]
    assert [p.get("data-column") for p in lines] == columns
    for p in lines:
        points = [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
        assert len(points) >= 10  # about 27 samples in 0.55 s
        assert all(0 <= x <= 960 and 0 <= y <= 540 for x, y in points)
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "window-label"]
    assert labels == windows


def test_without_matplotlib_libzeus_draws_the_svg(recorded, tmp_path, monkeypatch):
    power, step, log = recorded
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    svg = power.plot(tmp_path / "p.svg", windows={"step": step})
    assert isinstance(svg, str) and svg == (tmp_path / "p.svg").read_text()
    _libzeus_svg(tmp_path / "p.svg", ["gpu0", "gpu2"], ["step"])
    # Windows read from the ZeusMonitor log; no path: only the text.
    text = power.plot(windows=log)
    (tmp_path / "log.svg").write_text(text)
    _libzeus_svg(tmp_path / "log.svg", ["gpu0", "gpu2"], ["step"])
    with pytest.raises(ImportError, match="needs matplotlib"):
        power.plot(tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_plot_errors(recorded, tmp_path):
    power, _, _ = recorded
    with pytest.raises(ValueError, match=r"name a \.png, \.pdf or \.svg file"):
        power.plot(tmp_path / "p.jpg")
    with pytest.raises(FileNotFoundError):
        power.plot(windows=str(tmp_path / "missing.csv"))
    with pytest.raises(ValueError, match="has 1 values for 2 times"):
        from zeus import _zeus

        _zeus.plot_power_svg([1.0, 2.0], [("gpu0", [1.0])])


def test_pictures_are_written_as_every_zeus_output(recorded, tmp_path, monkeypatch):
    """Through libzeus's writer: a regular file replaced atomically, a symlink is written through (the link stays), a FIFO is
    written in place, an impossible place is an OSError naming it and changes nothing."""
    import os
    import threading

    power, _, _ = recorded
    target = tmp_path / "target.png"
    target.write_bytes(b"old")
    before = target.stat().st_ino
    power.plot(target)  # a regular file is replaced whole (a new inode), never truncated in place
    assert target.stat().st_ino != before and png_size(target) == (960, 540)
    link = tmp_path / "link.png"
    link.symlink_to(target)
    power.plot(link)
    assert link.is_symlink() and png_size(target) == (960, 540)
    fifo = tmp_path / "fifo.svg"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    power.plot(fifo)
    reader.join(10)
    assert got and got[0].startswith(b"<?xml") and b"</svg>" in got[0]
    assert fifo.is_fifo()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OSError, match="a-file"):
        power.plot(tmp_path / "a-file" / "p.svg")  # a regular file where a directory should be
    assert (tmp_path / "a-file").read_text() == "x"
    # Without matplotlib the same writer takes libzeus's SVG.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    svg_link = tmp_path / "svg-link.svg"
    svg_link.symlink_to(tmp_path / "svg-target.svg")
    power.plot(svg_link)
    assert svg_link.is_symlink() and (tmp_path / "svg-target.svg").read_text().endswith("</svg>\n")
