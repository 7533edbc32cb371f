"""Stand-in for the extension's write_file (libzeus's output writer): the whole file replaced
atomically, which is all ZeusDataLoader's result files need here."""

import os
import tempfile


def write_file(path, data):
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".zeus-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
