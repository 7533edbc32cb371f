"""`pip install .` works offline (--no-build-isolation): the wheel builds libzeus and the
extension together and the installed package measures on the fake NVML."""

from __future__ import annotations

import os
import subprocess
import sys

import re

from conftest import ROOT

# The one version (CMakeLists.txt's project()), which pyproject.toml reads too.
CMAKE_VERSION = re.search(r"project\(zeus VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())[1]


def test_pip_wheel_builds_and_installs(tmp_path):
    env = dict(os.environ, PIP_NO_INDEX="1")  # offline: nothing may be downloaded
    wheel_dir = tmp_path / "wheels"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
         "-w", str(wheel_dir), str(ROOT)],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    wheels = list(wheel_dir.glob("zeus-*.whl"))
    assert len(wheels) == 1
    assert wheels[0].name.startswith(f"zeus-{CMAKE_VERSION}-"), (wheels[0].name, CMAKE_VERSION)
    site = tmp_path / "site"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheels[0])],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert (site / "zeus" / "py.typed").exists() and (site / "zeus" / "_zeus.pyi").exists()
    code = (
        "import time, zeus; from zeus.monitor import ZeusMonitor\n"
        "assert zeus.__file__.startswith(%r), zeus.__file__\n"
        "m = ZeusMonitor(gpu_indices=[0]); m.begin_window('a'); time.sleep(0.05)\n"
        "print('J', m.end_window('a').energy[0])\n" % str(site)
    )
    p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(site)),
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0 and "J " in p.stdout, p.stderr[-2000:]


ELF_RUNTIME = ("linux-vdso", "libc.so", "libm.so", "libdl.so", "libpthread.so", "ld-linux",
               "librt.so")


def test_self_contained_wheel(tmp_path):
    """Issue 24 item 8: `make wheel` gives a manylinux wheel whose extension and zeus command
    resolve no library outside the wheel and the C runtime (ldd), that installs in a fresh venv
    offline, puts `zeus` on PATH, and works with the system's libcjson hidden."""
    out = tmp_path / "wheel"
    p = subprocess.run([str(ROOT / "scripts" / "make-wheel.sh"), sys.executable, str(out)],
                       capture_output=True, text=True, timeout=900, cwd=tmp_path,
                       env=dict(os.environ, PIP_NO_INDEX="1"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    wheels = list(out.glob("zeus-*-manylinux_*_x86_64.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    p = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index",
                        "--no-deps", "-q", str(wheels[0])], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    site = next((venv / "lib").glob("python3*/site-packages"))
    elves = [site / "zeus" / "_bin" / "zeus", *site.glob("zeus/_zeus*.so"),
             *site.glob("zeus.libs/*.so*")]
    assert len(elves) >= 3, elves
    for elf in elves:
        ldd = subprocess.run(["ldd", str(elf)], capture_output=True, text=True).stdout
        for line in ldd.splitlines():
            name = line.split()[0].rsplit("/", 1)[-1]
            if any(name.startswith(r) for r in ELF_RUNTIME):
                continue
            assert "zeus.libs" in line, f"{elf.name} needs {line.strip()} from outside the wheel"
    # With the system's libcjson out of reach (a private mount namespace; CI runs as root), the
    # installed command and module still run: they use the copy in the wheel.
    cjson = subprocess.run(["sh", "-c", "ls /usr/lib/*/libcjson.so.1.* | head -1"],
                           capture_output=True, text=True).stdout.strip()
    script = (
        f"mount --bind /dev/null {cjson}\n"
        f"{venv}/bin/zeus --version\n"
        f"{venv}/bin/zeus simulate single --num-recurrence 3 | grep -q 'recurrences       3'\n"
        f"{venv}/bin/python -c 'import zeus._zeus, zeus; print(\"module\", zeus.__version__)'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("zeus ") and "module" in p.stdout, p.stdout
    # One version: pip's metadata, the command's and CMake's project() agree.
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "zeus"],
                           capture_output=True, text=True, timeout=120, env=env).stdout
    pip_version = re.search(r"^Version: (.*)$", shown, re.M)[1]
    assert pip_version == CMAKE_VERSION and p.stdout.startswith(f"zeus {CMAKE_VERSION}\n"), (
        pip_version, p.stdout, CMAKE_VERSION)
    # The commands whose executables a wheel does not ship (they bring server libraries) are
    # marked in --help, and running one says what it needs instead of "unknown command".
    zeus = str(venv / "bin" / "zeus")
    usage = subprocess.run([zeus, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert usage.returncode == 0, usage.stderr
    lines = {line.split()[0]: line for line in usage.stdout.splitlines() if line.startswith("  ")}
    for name in ("run", "history", "bso", "exporter"):
        assert lines[name].endswith("(not in this installation)"), usage.stdout
    for name in ("show-env", "monitor", "simulate", "pipeline-frequency"):
        assert "not in this installation" not in lines[name], usage.stdout
    run = subprocess.run([zeus, "run", "job.json"], capture_output=True, text=True, timeout=60,
                         env=env)
    assert run.returncode == 1, run.stderr
    assert "'zeus run' is not in this installation" in run.stderr, run.stderr
    assert "libsqlite3-dev libpq-dev libmicrohttpd-dev" in run.stderr, run.stderr
    assert "unknown command" not in run.stderr, run.stderr
    exporter = subprocess.run([zeus, "exporter"], capture_output=True, text=True, timeout=60,
                              env=env)
    assert exporter.returncode == 1 and "libmicrohttpd-dev" in exporter.stderr, exporter.stderr
