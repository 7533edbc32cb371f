"""Checks a PNG power plot: the signature, every chunk's CRC, an IHDR of the expected size, and,
decoding the pixels (zlib + PNG row filters, standard library only), that each expected colour
(RRGGBB, a plotted line's; antialiasing blends a 1.5 px line with the white around it, so each
channel within 40) is drawn on some pixels of the upper 85 % (the plot area, above the
legend). Usage: check_png.py FILE WIDTH HEIGHT
[COLOUR,...]. Prints "png WIDTHxHEIGHT" and the pixel count of each colour; exit status 1 on a
failure."""
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit depth)


def chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, "bad CRC in %r" % kind
        yield kind, body
        pos += 12 + length


def unfilter(raw, width, height, bpp):
    rows, stride, prev, pos = [], width * bpp, bytearray(width * bpp), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            else:
                assert kind == 0, "unknown filter %d" % kind
        rows.append(line)
        prev = line
    return rows


def main(path, width, height, colours=""):
    data = open(path, "rb").read()
    parts = list(chunks(data))
    assert parts[0][0] == b"IHDR" and parts[-1][0] == b"IEND", [k for k, _ in parts]
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert (w, h) == (int(width), int(height)), (w, h)
    assert depth == 8 and ctype in CHANNELS and interlace == 0, (depth, ctype, interlace)
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    bpp = CHANNELS[ctype]
    rows = unfilter(raw, w, h, bpp)
    found = []
    for colour in filter(None, colours.split(",")):
        rgb = bytes.fromhex(colour)
        n = sum(1 for row in rows[:h * 85 // 100] for x in range(w)
                if max(abs(p - q) for p, q in zip(row[x * bpp:x * bpp + 3], rgb)) <= 40)
        assert n > 0, "colour %s not drawn" % colour
        found.append("%s=%d" % (colour, n))
    print("png %dx%d" % (w, h), " ".join(found))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except (AssertionError, zlib.error, struct.error) as e:
        print("invalid png:", repr(e))
        sys.exit(1)
