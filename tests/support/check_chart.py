"""Checks a chart (zeus/plot.h zeus_plot_chart_svg) as an image: well-formed XML, an <svg> of
the expected size, the expected panels with their series (by data-series, in order), every point
inside its panel's frame, and the axis labels (with their units). Usage:
check_chart.py FILE WIDTH HEIGHT PANELS LABELS, where PANELS is "a,b;c" (series per panel, panels
separated by ';') and LABELS is "|"-separated text that must appear among the labels. Prints the
number of points per series; exit status 1 on a failure."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def points_of(series):
    if series.tag == NS + "polyline":
        return [tuple(map(float, xy.split(","))) for xy in series.get("points").split()]
    return [(float(c.get("cx")), float(c.get("cy"))) for c in series.iter(NS + "circle")]


def main(path, width, height, panels, labels):
    root = ET.parse(path).getroot()
    assert root.tag == NS + "svg", root.tag
    assert (root.get("width"), root.get("height")) == (width, height), (root.get("width"), root.get("height"))
    groups = [g for g in root.iter(NS + "g") if g.get("class") == "panel"]
    want = [p.split(",") for p in panels.split(";")]
    assert len(groups) == len(want), (len(groups), len(want))
    report = []
    for g, names in zip(groups, want):
        frame = [r for r in g if r.tag == NS + "rect"][-1]
        x0, y0 = float(frame.get("x")), float(frame.get("y"))
        x1, y1 = x0 + float(frame.get("width")), y0 + float(frame.get("height"))
        series = [s for s in g if s.get("class") == "series"]
        assert [s.get("data-series") for s in series] == names, [s.get("data-series") for s in series]
        for s in series:
            pts = points_of(s)
            assert pts, "no points in %s" % s.get("data-series")
            for x, y in pts:
                assert x0 - 0.11 <= x <= x1 + 0.11 and y0 - 0.11 <= y <= y1 + 0.11, (s.get("data-series"), x, y)
            report.append("%s=%d" % (s.get("data-series"), len(pts)))
    text = [t.text or "" for t in root.iter(NS + "text")]
    for label in labels.split("|"):
        assert label in text, (label, text)
    print(" ".join(report))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except (AssertionError, ET.ParseError) as e:
        print("check_chart: %r" % (e,))
        sys.exit(1)
