#!/usr/bin/env python3
"""Imports every public module and name of Zeus 0.8 and of the newest Zeus (the lists of
docs/spec/python-surface.md) from the installed ``zeus`` package and reports the fraction that
imports, per version. ``--list`` prints every missing name with the error; ``--min F`` exits 1
when a version's fraction is below F (tests/python/test_surface.py uses 0.95).

    python scripts/python-surface.py [--list] [--min 0.95]
"""

from __future__ import annotations

import argparse
import importlib
import sys

GPU_ERRORS = (
    "ZeusGPUInitError ZeusGPUInvalidArgError ZeusGPUNotSupportedError ZeusGPUNoPermissionError "
    "ZeusGPUAlreadyInitializedError ZeusGPUNotFoundError ZeusGPUInsufficientSizeError "
    "ZeusGPUInsufficientPowerError ZeusGPUDriverNotLoadedError ZeusGPUTimeoutError ZeusGPUIRQError "
    "ZeusGPULibraryNotFoundError ZeusGPUFunctionNotFoundError ZeusGPUCorruptedInfoROMError "
    "ZeusGPULostError ZeusGPUResetRequiredError ZeusGPUOperatingSystemError "
    "ZeusGPULibRMVersionMismatchError ZeusGPUMemoryError ZeusGPUUnknownError"
)
PL_NAMES = (
    "OptimumSelector Energy Time ZeusCost MaxSlowdownConstraint Ready Warmup Profiling Done "
    "PowerLimitMeasurement GlobalPowerLimitOptimizer HFGlobalPowerLimitOptimizer"
)
POLICY = "BatchSizeOptimizer PowerLimitOptimizer JITPowerLimitOptimizer PruningGTSBatchSizeOptimizer"
POLICY_OPT = "GTSBatchSizeOptimizer PruningExploreManager PruningGTSBatchSizeOptimizer JITPowerLimitOptimizer"

# module -> public names (a module with no names counts as one name: the module itself)
V08 = {
    "zeus": "__version__",
    "zeus.exception": "ZeusBaseError",
    "zeus.device": "get_gpus ZeusBaseGPUError " + GPU_ERRORS,
    "zeus.device.exception": "ZeusBaseGPUError",
    "zeus.device.gpu": "get_gpus nvml_is_available amdsmi_is_available GPU NVIDIAGPU "
    "UnprivilegedNVIDIAGPU AMDGPU UnprivilegedAMDGPU GPUs NVIDIAGPUs AMDGPUs " + GPU_ERRORS,
    "zeus.monitor": "ZeusMonitor Measurement",
    "zeus.monitor.energy": "ZeusMonitor Measurement",
    "zeus.monitor.power": "infer_counter_update_period PowerMonitor",
    "zeus.optimizer": "GlobalPowerLimitOptimizer HFGlobalPowerLimitOptimizer",
    "zeus.optimizer.power_limit": PL_NAMES,
    "zeus.optimizer.perseus": "PerseusOptimizer",
    "zeus.optimizer.perseus.frequency_controller": "FrequencyController",
    "zeus.callback": "Callback CallbackSet",
    "zeus.controller": "EarlyStopController",
    "zeus.job": "Job",
    "zeus.policy": POLICY,
    "zeus.policy.interface": "BatchSizeOptimizer PowerLimitOptimizer",
    "zeus.policy.mab": "GaussianTS",
    "zeus.policy.optimizer": POLICY_OPT,
    "zeus.simulate": "Simulator",
    "zeus.analyze": "HistoryEntry energy avg_power",
    "zeus.run": "ZeusMaster ZeusDataLoader",
    "zeus.run.master": "ZeusMaster",
    "zeus.run.dataloader": "ZeusDataLoader",
    "zeus.util": "get_env FileAndConsole LinearScaler SquareRootScaler zeus_cost "
    "ZeusCostThresholdExceededError",
    "zeus.util.env": "get_env",
    "zeus.util.framework": "torch_is_available cuda_sync",
    "zeus.util.logging": "FileAndConsole get_logger",
    "zeus.util.lr_scaler": "SquareRootScaler LinearScaler",
    "zeus.util.metric": "zeus_cost ZeusCostThresholdExceededError",
    "zeus.util.testing": "ReplayZeusMonitor",
    "zeus.util.async_utils": "create_task",
    "zeus.util.pydantic_v1": "BaseModel validator",
}

HEAD = {
    "zeus": "__version__",
    "zeus.exception": "ZeusBaseError",
    "zeus.callback": "Callback CallbackSet",
    "zeus.device": "get_gpus get_cpus get_soc",
    "zeus.device.exception": "ZeusBaseGPUError ZeusBaseCPUError ZeusBaseSoCError ZeusdError",
    "zeus.device.common": "has_sys_admin deprecated_alias DeprecatedAliasABCMeta",
    "zeus.device.gpu": "get_gpus GPU GPUs EmptyGPUs ZeusBaseGPUError ZeusGPUHeterogeneousError "
    + GPU_ERRORS,
    "zeus.device.gpu.common": "GPU GPUs EmptyGPUs ZeusGPUHeterogeneousError " + GPU_ERRORS,
    "zeus.device.gpu.nvidia": "nvml_is_available NVIDIAGPU ZeusdNVIDIAGPU NVIDIAGPUs",
    "zeus.device.gpu.amd": "amdsmi_is_available AMDGPU ZeusdAMDGPU AMDGPUs",
    "zeus.device.cpu": "get_cpus",
    "zeus.device.cpu.common": "CpuDramMeasurement ZeusCPUInitError ZeusCPUNoPermissionError "
    "ZeusCPUNotFoundError CPU CPUs EmptyCPUs",
    "zeus.device.cpu.rapl": "RAPL_DIR rapl_is_available get_current_rapl_zone_id RAPLFile "
    "RaplWraparoundTracker RAPLCPU ZeusdRAPLCPU RAPLCPUs ZeusRAPLNotSupportedError "
    "ZeusRAPLFileInitError ZeusRAPLPermissionError",
    "zeus.device.cpu.emi": "EMICPUs EMICPU EMIFile emi_is_available get_current_emi_cpu_index "
    "ZeusEMINotSupportedError ZeusEMIInitError",
    "zeus.device.soc": "get_soc",
    "zeus.device.soc.common": "SoCMeasurement SoC EmptySoC ZeusSoCInitError",
    "zeus.device.soc.apple": "AppleSilicon AppleSiliconMeasurement apple_silicon_is_available "
    "ZeusAppleInitError",
    "zeus.device.soc.jetson": "Jetson JetsonMeasurement jetson_is_available ZeusJetsonInitError "
    "DirectPower VoltageCurrentProduct",
    "zeus.monitor": "ZeusMonitor Measurement PowerMonitor TemperatureMonitor",
    "zeus.monitor.energy": "ZeusMonitor Measurement MeasurementState",
    "zeus.monitor.power": "infer_counter_update_period PowerDomain PowerSample PowerMonitor",
    "zeus.monitor.power_streaming": "CpuPowerReading PowerReadings PowerStreamingClient",
    "zeus.monitor.temperature": "TemperatureSample TemperatureMonitor",
    "zeus.monitor.carbon": "ZeusCarbonIntensityHTTPError ZeusCarbonIntensityNotFoundError "
    "CarbonIntensityProvider ElectrictyMapsClient CarbonEmissionMeasurement Op "
    "CarbonEmissionMonitor",
    "zeus.monitor.price": "get_time_info ZeusElectricityPriceHTTPError "
    "ZeusElectricityPriceNotFoundError ElectricityPriceProvider OpenEIClient "
    "EnergyCostMeasurement Op EnergyCostMonitor",
    "zeus.utils": "",
    "zeus.utils.env": "get_env",
    "zeus.utils.lr_scaler": "SquareRootScaler LinearScaler",
    "zeus.utils.async_utils": "create_task",
    "zeus.utils.pydantic_v1": "BaseModel validator",
    "zeus.utils.logging": "FileAndConsole",
    "zeus.utils.metric": "zeus_cost energy avg_power",
    "zeus.utils.testing": "ReplayZeusMonitor",
    "zeus.utils.multiprocessing": "warn_if_global_in_subprocess",
    "zeus.utils.lat_lon": "get_ip_lat_long",
    "zeus.utils.framework": "torch_is_available jax_is_available cupy_is_available "
    "sync_execution all_reduce is_distributed get_rank get_world_size",
    "zeus.utils.zeusd": "ZeusdConnectionError ZeusdAuthError ZeusdCapabilityError GpuInfo CpuInfo "
    "GpuPowerSnapshot CpuDramPower CpuPowerSnapshot CpuEnergyResult ZeusdConfig ZeusdClient "
    "require_capabilities",
    "zeus.optimizer.power_limit": PL_NAMES,
    "zeus.optimizer.batch_size": "BatchSizeOptimizer JobSpec",
    "zeus.optimizer.batch_size.client": "BatchSizeOptimizer",
    "zeus.optimizer.batch_size.common": "REGISTER_JOB_URL DELETE_JOB_URL GET_NEXT_BATCH_SIZE_URL "
    "REPORT_RESULT_URL REPORT_END_URL JobParams GpuConfig JobSpec JobSpecFromClient CreatedJob "
    "TrialId TrainingResult ReportResponse",
    "zeus.optimizer.batch_size.exceptions": "ZeusBSORuntimError ZeusBSOTrainFailError "
    "ZeusBSOConfigError ZeusBSOOperationOrderError ZeusBSOBadOperationError",
    "zeus.optimizer.pipeline_frequency": "PipelineFrequencyOptimizer",
    "zeus.optimizer.pipeline_frequency.frequency_controller": "FrequencyController",
    "zeus.profile": "TrialResult SweepResult SweepReport profile_measurement_duration "
    "profile_cooldown_duration profile_parameters measure",
    "zeus.show_env": "show_env",
    "zeus.metric": "Metric EnergyHistogram EnergyCumulativeCounter PowerGauge",
    "zeus._legacy.job": "Job",
    "zeus._legacy.policy": POLICY,
    "zeus._legacy.policy.interface": "BatchSizeOptimizer PowerLimitOptimizer",
    "zeus._legacy.policy.mab": "GaussianTS",
    "zeus._legacy.policy.optimizer": POLICY_OPT,
    "zeus._legacy.simulate": "Simulator HistoryEntry",
}


def check(surface: dict[str, str]) -> tuple[int, list[str]]:
    """(how many names there are, the missing ones with why)."""
    total, missing = 0, []
    for module, names in surface.items():
        names_list = names.split() or [None]
        total += len(names_list)
        try:
            mod = importlib.import_module(module)
        except Exception as e:  # noqa: BLE001 - reported
            missing += [f"{module}{'.' + n if n else ''}: {type(e).__name__}: {e}" for n in names_list]
            continue
        for n in names_list:
            if n is not None and not hasattr(mod, n):
                missing.append(f"{module}.{n}: not defined")
    return total, missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print every missing name and why")
    ap.add_argument("--min", type=float, default=None, help="fail below this fraction")
    args = ap.parse_args()
    ok = True
    for label, surface in (("zeus 0.8", V08), ("newest zeus", HEAD)):
        total, missing = check(surface)
        frac = (total - len(missing)) / total
        print(f"{label}: {total - len(missing)} of {total} names importable ({frac:.1%})")
        if args.list:
            for m in missing:
                print("  missing " + m)
        if args.min is not None and frac < args.min:
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
