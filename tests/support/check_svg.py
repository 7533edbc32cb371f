"""Checks a power plot (zeus/plot.h) as an image: well-formed XML, an <svg> of the expected
size, one polyline per expected column with every point inside the picture, and the expected
number of marked windows. Usage: check_svg.py FILE WIDTH HEIGHT COLUMNS WINDOWS
(COLUMNS comma-separated). Prints the number of points per column, the
window labels and each line's vertical extent in pixels; exit status 1 on a failure."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def main(path, width, height, columns, windows):
    root = ET.parse(path).getroot()
    assert root.tag == NS + "svg", root.tag
    assert root.get("width") == width and root.get("height") == height, (root.get("width"), root.get("height"))
    assert root.get("viewBox") == "0 0 %s %s" % (width, height), root.get("viewBox")
    lines = [p for p in root.iter(NS + "polyline") if p.get("class") == "series"]
    names = [p.get("data-column") for p in lines]
    assert names == columns.split(","), names
    counts, spans = [], []
    for p in lines:
        points = [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
        assert points, "no points for %s" % p.get("data-column")
        for x, y in points:
            assert 0 <= x <= float(width) and 0 <= y <= float(height), (x, y)
        xs = [x for x, _ in points]
        assert xs == sorted(xs), "points not in time order"
        counts.append("%s=%d" % (p.get("data-column"), len(points)))
        ys = [y for _, y in points]
        spans.append("%s:%.1f" % (p.get("data-column"), max(ys) - min(ys)))
    marked = [r for r in root.iter(NS + "rect") if r.get("class") == "window"]
    assert len(marked) == int(windows), len(marked)
    labels = [t.text for t in root.iter(NS + "text") if t.get("class") == "window-label"]
    print(" ".join(counts), "windows=" + "|".join(labels), "spans=" + ",".join(spans))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except (AssertionError, ET.ParseError) as e:
        print("invalid plot:", repr(e))
        sys.exit(1)
