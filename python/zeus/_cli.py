"""The ``zeus`` command that ``pip install`` puts on PATH: runs the zeus executable that comes
in the wheel (zeus/_bin/zeus, the same program ``cmake --install`` installs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    exe = Path(__file__).resolve().parent / "_bin" / "zeus"
    if not exe.is_file():
        sys.exit(
            "zeus: this installation of the zeus package has no zeus executable "
            f"({exe} is missing): reinstall from a wheel made by `make wheel`"
        )
    os.execv(exe, ["zeus", *sys.argv[1:]])


if __name__ == "__main__":
    main()
