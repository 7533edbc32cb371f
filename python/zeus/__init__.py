"""Zeus: measure and optimize the energy GPUs spend on deep learning (Python face of libzeus).

Drop-in for the original ``zeus-ml`` package's public names: ``zeus.monitor.ZeusMonitor``,
``zeus.optimizer.GlobalPowerLimitOptimizer``, ``zeus.optimizer.power_limit.*``,
``zeus.callback``, ``zeus.device.get_gpus``, ``zeus.util.env`` / ``zeus.utils.env``,
``zeus.util.metric`` and ``zeus.util.testing``. The work is done by libzeus (C) through the
extension module ``zeus._zeus``.
"""

from zeus import _logging
from zeus import _zeus

# Which Zeus API this package matches (the newest Zeus's public names; 0.8's are kept too),
# and which libzeus does the work: "0.16.0+libzeus.0.1.0" (a PEP 440 local version).
__zeus_api_version__ = "0.16.0"
__libzeus_version__ = _zeus.libzeus_version
__version__ = f"{__zeus_api_version__}+libzeus.{__libzeus_version__}"

_logging.install()

__all__ = ["__version__", "__zeus_api_version__", "__libzeus_version__"]

from zeus.device.exception import BY_ZEUS_ERROR as _BY_ZEUS_ERROR  # noqa: E402
from zeus.exception import ZeusBaseError as _ZeusBaseError  # noqa: E402

_zeus._set_error_table(_BY_ZEUS_ERROR, _ZeusBaseError)
