"""Simulated GPUs: the training script calls SIM.step(batch_size) per batch; time and energy
follow from the batch size and the power limit (lower limits: slower, less power)."""


class _Sim:
    def __init__(self):
        self.t = 0.0
        self.e = 0.0
        self.pl_mw = 300_000
        self.persistent = False

    def step(self, bs):
        pl_w = self.pl_mw / 1000
        dt = 0.01 * bs ** 0.5 * (1 + (300 - pl_w) / 1200)
        self.t += dt
        self.e += dt * 0.9 * pl_w


SIM = _Sim()


class GPUs:
    def __len__(self):
        return 1

    def get_name(self, i):
        return "Simulated GPU"

    def get_power_management_limit_constraints(self, i):
        return (200_000, 300_000)

    def set_power_management_limit(self, i, mw, block=True):
        SIM.pl_mw = mw

    def set_persistence_mode(self, i, enabled, block=True):
        SIM.persistent = enabled


def get_gpus(ensure_homogeneous=False):
    return GPUs()
