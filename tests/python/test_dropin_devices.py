"""The device modules at the original's import paths (zeus.device.gpu / cpu / soc / common /
exception), on the fake NVML (4 x A40) and a RAPL tree in a temporary directory."""

from __future__ import annotations

import warnings

import pytest

from conftest import run_python


def test_gpu_classes_read_and_set_through_libzeus(nvml_sets):
    from zeus.device import get_gpus
    from zeus.device.gpu import GPU, NVIDIAGPUs, nvml_is_available
    from zeus.device.gpu.common import EmptyGPUs

    gpus = get_gpus()
    assert isinstance(gpus, NVIDIAGPUs) and nvml_is_available() and len(gpus) == 4
    g = gpus.gpus[2]
    assert isinstance(g, GPU) and g.gpu_index == 2
    assert g.get_name() == gpus.get_name(2) == "NVIDIA A40"
    lo, hi = g.get_power_management_limit_constraints()
    assert (lo, hi) == (100000, 300000)
    g.set_power_management_limit(200000)
    assert g.get_power_management_limit() == gpus.get_power_management_limit(2) == 200000
    g.reset_power_management_limit()
    assert (2, 200000) in nvml_sets() and nvml_sets()[-1] == (2, 300000)
    assert g.supports_get_total_energy_consumption()
    e0 = g.get_total_energy_consumption()
    assert e0 >= 0 and g.get_instant_power_usage() > 0 and g.get_average_power_usage() > 0
    assert 10 <= g.get_gpu_temperature() <= 110
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert g.getName() == "NVIDIA A40"  # 0.8's name, a deprecated alias in the newer Zeus
        assert g.getPowerUsage() > 0
    assert any(issubclass(x.category, DeprecationWarning) for x in w)
    empty = EmptyGPUs()
    assert len(empty) == 0 and empty.gpus == []
    with pytest.raises(ValueError, match="No GPUs available."):
        empty.get_name(0)


def test_heterogeneous_gpus_raise_the_newer_error():
    r = run_python(
        "from zeus.device import get_gpus\n"
        "from zeus.device.gpu.common import ZeusGPUHeterogeneousError\n"
        "try:\n    get_gpus(ensure_homogeneous=True)\n"
        "except ZeusGPUHeterogeneousError as e:\n    print('HETERO', e)\n",
        env={"ZEUS_FAKE_NVML_CONFIG": '{"gpus": [{"name": "NVIDIA A40"}, {"name": "Tesla V100-SXM2-32GB", "architecture": "volta"}]}'},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HETERO"), r.stdout


def test_amd_jetson_apple_emi_say_why_they_cannot_be_made():
    from zeus.device.cpu.emi import EMICPUs, ZeusEMIInitError, emi_is_available
    from zeus.device.exception import ZeusBaseGPUError, ZeusdError
    from zeus.device.gpu.amd import AMDGPUs, amdsmi_is_available
    from zeus.device.gpu.common import ZeusGPUInitError
    from zeus.device.soc import get_soc
    from zeus.device.soc.apple import AppleSilicon, ZeusAppleInitError
    from zeus.device.soc.common import ZeusSoCInitError
    from zeus.device.soc.jetson import Jetson, ZeusJetsonInitError

    assert issubclass(ZeusdError, ZeusBaseGPUError)
    assert not amdsmi_is_available() and not emi_is_available()
    with pytest.raises(ZeusGPUInitError, match="AMD SMI is not available"):
        AMDGPUs()
    with pytest.raises(ZeusJetsonInitError, match="Jetson power rails are not available"):
        Jetson()
    with pytest.raises(ZeusAppleInitError, match="not supported on Linux"):
        AppleSilicon()
    with pytest.raises(ZeusEMIInitError, match="only on Windows"):
        EMICPUs()
    with pytest.raises(ZeusSoCInitError, match="No SoCs found"):
        get_soc()


def test_rapl_cpus_read_energy_from_a_powercap_tree(tmp_path):
    root = tmp_path / "fs"
    for pkg, dram in ((0, True), (1, False)):
        zone = root / "sys" / "class" / "powercap" / f"intel-rapl:{pkg}"
        zone.mkdir(parents=True)
        (zone / "name").write_text(f"package-{pkg}\n")
        (zone / "energy_uj").write_text("1000000\n")
        (zone / "max_energy_range_uj").write_text("262143328850\n")
        if dram:
            sub = zone / f"intel-rapl:{pkg}:0"
            sub.mkdir()
            (sub / "name").write_text("dram\n")
            (sub / "energy_uj").write_text("500000\n")
            (sub / "max_energy_range_uj").write_text("65712999613\n")
    code = (
        "import pathlib\n"
        "from zeus.device import get_cpus\n"
        "from zeus.device.cpu.rapl import RAPLCPUs\n"
        "from zeus.device.cpu.common import CpuDramMeasurement\n"
        "cpus = get_cpus()\n"
        "assert isinstance(cpus, RAPLCPUs) and len(cpus) == 2\n"
        "a = cpus.get_total_energy_consumption(0)\n"
        f"root = pathlib.Path({str(root)!r}) / 'sys' / 'class' / 'powercap'\n"
        "(root / 'intel-rapl:0' / 'energy_uj').write_text('3500000\\n')\n"
        "(root / 'intel-rapl:0' / 'intel-rapl:0:0' / 'energy_uj').write_text('1500000\\n')\n"
        "b = cpus.get_total_energy_consumption(0)\n"
        "d = b - a\n"
        "print(d.cpu_mj, d.dram_mj, cpus.supports_get_dram_energy_consumption(0),\n"
        "      cpus.supports_get_dram_energy_consumption(1), (d / 2).cpu_mj,\n"
        "      cpus.get_total_energy_consumption(1).dram_mj)\n"
    )
    r = run_python(code, env={"ZEUS_SYSFS_ROOT": str(root)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2500.0", "1000.0", "True", "False", "1250.0", "None"]


def test_current_cpu_index_of_a_pinned_process(tmp_path):
    # The package of the core the process runs on (pinned to the last core it may use); RAPLCPUs
    # where there is no RAPL (an empty sysfs tree) says so as the original does.
    r = run_python(
        "import os\n"
        "from zeus.device.cpu import get_current_cpu_index\n"
        "from zeus.device.cpu.rapl import RAPLCPUs, ZeusRAPLNotSupportedError\n"
        "core = sorted(os.sched_getaffinity(0))[-1]\n"
        "os.sched_setaffinity(0, {core})\n"
        "topology = f'/sys/devices/system/cpu/cpu{core}/topology/physical_package_id'\n"
        "package = int(open(topology).read())\n"
        "print(get_current_cpu_index(), get_current_cpu_index(os.getpid()), package)\n"
        "try:\n    RAPLCPUs()\nexcept ZeusRAPLNotSupportedError as e:\n    print('NO-RAPL', e)\n",
        env={"ZEUS_SYSFS_ROOT": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    index, by_pid, package = first.split()
    assert index == by_pid == package
    assert second.startswith("NO-RAPL RAPL is not supported on this CPU.")


def test_amd_gpus_numbered_by_hip_with_their_pci_address():
    # On the fake libamd_smi (handles listed in reverse HIP order), HIP_VISIBLE_DEVICES=2,0:
    # framework GPU 0 is HIP 2 (the fake's bus 3). Past the visible GPUs: the HIP indices seen.
    from conftest import FAKE_AMDSMI

    r = run_python(
        "from zeus import _zeus\n"
        "from zeus.device.exception import ZeusGPUNotFoundError\n"
        "from zeus.device.gpu.amd import AMDGPU\n"
        "print([_zeus.gpu_pci_address(i) for i in range(_zeus.gpu_count())])\n"
        "try:\n    AMDGPU(2)\nexcept ZeusGPUNotFoundError as e:\n    print('NOT-FOUND', e)\n"
        "try:\n    AMDGPU(0).handle\nexcept ImportError as e:\n    print('NO-AMDSMI', e)\n",
        env={"ZEUS_DEVICE": "amdsmi", "ZEUS_AMDSMI_LIBRARY": str(FAKE_AMDSMI),
             "ZEUS_AMDSMI_CHECK_MS": "20", "HIP_VISIBLE_DEVICES": "2,0"},
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "['0000:03:00.0', '0000:01:00.0']"
    assert lines[1].startswith("NOT-FOUND no AMD GPU at index 2") and "HIP indices [0, 2]" in lines[1]
    assert lines[2].startswith("NO-AMDSMI AMDGPU.handle is a handle of ROCm's amdsmi Python package")
