"""lowtime 0.3.0 (PyPI) as the oracle of `zeus pipeline-frequency solve`, and the random profiles
the differential test and bench/bench_pipeline_frequency.py feed both.

run_lowtime() follows zeus's examples/pipeline_frequency_optimizer/run_optimization.py (the
newest Zeus): the same options, filter, fallback noise factor, "best" fit, 1F1B DAG and
PhillipsDessouky loop, minus its plots. It reads the CSV with the csv module (float() rounds
correctly); the profiles below have few enough digits that pandas reads them identically.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
import time

FREQS = list(range(1410, 795, -30))  # A100-like SM clocks, MHz


def make_profile(seed: int, max_stages: int = 8, max_mbs: int = 32, fwd_range=(0.015, 0.045)):
    """A random pipeline (stages, microbatches) and its profile rows.

    fwd_range: a stage's forward time at the highest clock, seconds (short times make short
    frontiers: the differential test uses (0.006, 0.015) so lowtime finishes in seconds).

    Each stage has its own work (imbalanced stages), backward about twice forward, time
    t(f) = t_max (alpha + (1 - alpha) f_max / f), power P_static + P_dyn (f / f_max)^3, and a
    little multiplicative noise so some frequencies fall off the Pareto front.
    """
    rng = random.Random(seed)
    stages = rng.randint(2, max_stages)
    mbs = rng.randint(2, max_mbs)
    rows = []
    for s in range(stages):
        fwd = rng.uniform(*fwd_range)
        for inst, base in (("forward", fwd), ("backward", fwd * rng.uniform(1.8, 2.2))):
            alpha = rng.uniform(0.2, 0.35)
            p_static = rng.uniform(60.0, 90.0)
            p_dyn = rng.uniform(150.0, 250.0)
            for f in FREQS:
                t = base * (alpha + (1 - alpha) * FREQS[0] / f) * rng.uniform(0.995, 1.005)
                p = p_static + p_dyn * (f / FREQS[0]) ** 3
                rows.append((s, inst, f, round(t, 6), round(p * t, 4)))
    return stages, mbs, rows


def write_profile(path, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stage", "instruction", "frequency", "time", "energy"])
        w.writerows(rows)


def run_lowtime(path, stages: int, mbs: int, unit_time=0.001, p2p_power=70.0,
                noise_factor=0.95, fixed_models=None, max_points=None):
    """Returns {"fits": {(stage, inst): (a, b, c)}, "frontier": [(quant_time, cost,
    cost_change)], "plans": [[[knob, ...] per stage] per frontier point]}."""
    import networkx as nx
    from lowtime.cost_model import CostModel, ExponentialModel
    from lowtime.graph_utils import DependencyResolver, add_sink_node, add_source_node
    from lowtime.operation import CandidateExecutionOptions, ExecutionOption, OperationSpec
    from lowtime.perseus.instruction import Backward, Forward, Instruction, backward_dep, forward_dep
    from lowtime.perseus.schedule import Synchronous1F1B
    from lowtime.solver import PhillipsDessouky

    class Fixed(CostModel):
        def __init__(self, a, b, c):
            self.coefficients = (a, b, c)

        def __call__(self, q):
            a, b, c = self.coefficients
            return a * math.exp(b * q) + c

    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    fits = {}
    spec_map = {}
    for instruction in (Forward, Backward):
        name = instruction.__name__.lower()
        for s in range(stages):
            options = [
                ExecutionOption[int](real_time=float(r["time"]), unit_time=unit_time,
                                     cost=float(r["energy"]), knob=int(float(r["frequency"])))
                for r in table
                if int(float(r["stage"])) == s and r["instruction"] == name
            ]
            for o in options:
                o.cost -= p2p_power * o.quant_time * o.unit_time
            cand = CandidateExecutionOptions[int](options=options)
            if len(cand.options) <= 3:
                cand = CandidateExecutionOptions[int](options=options, noise_factor=noise_factor)
            if fixed_models is not None:
                model = Fixed(*fixed_models[(s, name)])
            else:
                model = ExponentialModel(cand, search_strategy="best")
            fits[(s, name)] = tuple(float(x) for x in model.coefficients)
            spec_map.setdefault(s, {})[instruction] = OperationSpec[int](options=cand,
                                                                        cost_model=model)
    dag = nx.DiGraph()
    node_id = 2
    instructions = []
    for s in range(stages):
        ids = []
        insts = []
        for inst in Synchronous1F1B(num_stages=stages, num_micro_batches=mbs, stage_id=s,
                                    operation_spec_map=spec_map[s]):
            dag.add_node(node_id, op=inst)
            ids.append(node_id)
            insts.append(inst)
            node_id += 1
        instructions.append(insts)
        for a, b in zip(ids, ids[1:]):
            dag.add_edge(a, b)
    nodes = dag.nodes(data=True)
    resolver = DependencyResolver(dependency_rules=[forward_dep, backward_dep],
                                  node_type=Instruction)
    for (i1, d1), (i2, d2) in itertools.product(nodes, nodes):
        if resolver.is_dependent(d1["op"], d2["op"]):
            dag.add_edge(i1, i2)
    add_source_node(dag, 0)
    add_sink_node(dag, 1)
    dag.graph["source_node"] = 0
    dag.graph["sink_node"] = 1
    frontier, plans = [], []
    start = time.process_time()  # CPU seconds: the shared machine's load does not count
    for result in PhillipsDessouky(dag).run():
        frontier.append((result.quant_time, result.cost, result.cost_change))
        plans.append([[inst.assigned_knob for inst in insts] for insts in instructions])
        if max_points is not None and len(frontier) >= max_points:
            break
    solve_s = time.process_time() - start
    return {"fits": fits, "frontier": frontier, "plans": plans, "solve_s": solve_s}
