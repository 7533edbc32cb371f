"""Every callable of the extension zeus._zeus has a text signature (issue 24 item 15).

inspect.signature (IDEs, help()) reads __text_signature__, the "name(...)\\n--\\n\\n" prefix of a
builtin's docstring. This walks every function of the module, every type and every method of
those types, asserts inspect.signature works, and compares the parameters (names, kinds, whether
each has a default) with the stub python/zeus/_zeus.pyi where it declares one. The other
extension module, zeus._recurring (the batch-size optimizer's internals, no stub), is walked too.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zeus import _recurring, _zeus

STUB = Path(__file__).resolve().parents[2] / "python" / "zeus" / "_zeus.pyi"

KIND = {
    "posonly": inspect.Parameter.POSITIONAL_ONLY,
    "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "vararg": inspect.Parameter.VAR_POSITIONAL,
    "kwonly": inspect.Parameter.KEYWORD_ONLY,
    "kwarg": inspect.Parameter.VAR_KEYWORD,
}


def _stub_params(fn: ast.FunctionDef, method: bool) -> list[tuple[str, object, bool]]:
    """(name, kind, has default) of a stub's function, self left out."""
    a = fn.args
    positional = [(p, "posonly") for p in a.posonlyargs] + [(p, "args") for p in a.args]
    first_default = len(positional) - len(a.defaults)
    out = [(p.arg, KIND[k], i >= first_default) for i, (p, k) in enumerate(positional)]
    if a.vararg:
        out.append((a.vararg.arg, KIND["vararg"], False))
    out += [(p.arg, KIND["kwonly"], d is not None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append((a.kwarg.arg, KIND["kwarg"], False))
    if method:
        assert out and out[0][0] == "self", f"{fn.name}: a method's stub starts with self"
        out = out[1:]
    return out


def _stub() -> dict[str, list[tuple[str, object, bool]]]:
    """Qualified name ("f", "Cls", "Cls.method") -> the stub's parameters; properties left out."""
    tree = ast.parse(STUB.read_text())
    out: dict[str, list[tuple[str, object, bool]]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = _stub_params(node, False)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                if any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                    continue
                name = node.name if item.name == "__init__" else f"{node.name}.{item.name}"
                out[name] = _stub_params(item, True)
    return out


def _callables(module) -> dict[str, object]:
    """Everything callable the extension module defines, by qualified name."""
    out: dict[str, object] = {}
    for name, obj in vars(module).items():
        if name.startswith("__"):
            continue
        if isinstance(obj, type):
            out[name] = obj
            for attr, member in vars(obj).items():
                if attr.startswith("__"):
                    continue
                if callable(member):  # methods (getters are data descriptors, not callable)
                    out[f"{name}.{attr}"] = getattr(obj, attr)
        elif callable(obj):
            out[name] = obj
    return out


def _actual(obj: object) -> list[tuple[str, object, bool]]:
    sig = inspect.signature(obj)
    params = list(sig.parameters.values())
    if params and params[0].name == "self":  # an unbound method's $self
        params = params[1:]
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in params]


CALLABLES = _callables(_zeus)
STUBS = _stub()
RECURRING = _callables(_recurring)


def test_walk_finds_the_extension():
    # The walk sees the module's functions, its types and their methods (so the test below has
    # something to check; a failure to find them would otherwise pass silently).
    assert {"gpu_count", "gpu_info", "Monitor", "Monitor.begin_window", "Optimizer.on_step_end"} <= (
        CALLABLES.keys()
    )
    assert len(CALLABLES) >= 50 and len(RECURRING) >= 20


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_signature_matches_the_stub(name):
    obj = CALLABLES[name]
    text = getattr(obj, "__text_signature__", None)
    assert text, f"{name} has no __text_signature__ (docstring: {obj.__doc__!r})"
    actual = _actual(obj)  # inspect.signature works
    if name in STUBS:
        assert actual == STUBS[name], f"{name}: {inspect.signature(obj)} against the stub"


@pytest.mark.parametrize("name", sorted(RECURRING))
def test_recurring_module_has_signatures(name):
    obj = RECURRING[name]
    assert getattr(obj, "__text_signature__", None), f"_recurring.{name}: {obj.__doc__!r}"
    inspect.signature(obj)


def test_the_stub_covers_the_user_facing_types():
    # every method and constructor of the types users meet (through ZeusMonitor, PowerMonitor,
    # GlobalPowerLimitOptimizer) is compared with the stub, not only looked at
    typed = [n for n in CALLABLES if n.split(".")[0] in {"Monitor", "Sampler", "Optimizer", "Measurement"}]
    assert sorted(set(typed) - set(STUBS)) == []


def test_stub_declares_nothing_absent():
    assert sorted(set(STUBS) - set(CALLABLES)) == []


def test_defaults_are_the_originals():
    # The defaults users see in help() and IDEs: those of the original ZeusMonitor and
    # GlobalPowerLimitOptimizer (spec/python-surface.md).
    begin = inspect.signature(_zeus.Monitor.begin_window).parameters
    assert begin["sync_execution"].default is True and begin["restart"].default is False
    end = inspect.signature(_zeus.Monitor.end_window).parameters
    assert end["sync_execution"].default is True and end["cancel"].default is False
    opt = inspect.signature(_zeus.Optimizer).parameters
    assert (opt["wait_steps"].default, opt["warmup_steps"].default) == (1, 10)
    assert (opt["profile_steps"].default, opt["pl_step"].default) == (40, 25)
    assert inspect.signature(_zeus.Sampler._timeline).parameters["since"].default is None
    assert "begin_window(" not in (_zeus.Monitor.begin_window.__doc__ or "")


# Run in a fresh interpreter: every callable's signature, with nothing imported beyond the two
# extension modules (and whatever importing them imports) and with the modules a default could
# lean on (math, ...) taken out of sys.modules, where inspect looks names up. A default such as
# -math.inf worked in this test process only because something here had imported math.
FRESH = textwrap.dedent(
    """
    import inspect, json, sys
    from zeus import _recurring, _zeus
    for name in ("math", "cmath", "decimal", "fractions", "numpy", "torch"):
        sys.modules.pop(name, None)
    failed, seen = {}, 0
    for module in (_zeus, _recurring):
        objs = []
        for name, obj in vars(module).items():
            if name.startswith("__"):
                continue
            if isinstance(obj, type):
                objs.append((name, obj))
                objs += [(f"{name}.{a}", getattr(obj, a)) for a, m in vars(obj).items()
                         if not a.startswith("__") and callable(m)]
            elif callable(obj):
                objs.append((name, obj))
        for name, obj in objs:
            seen += 1
            try:
                inspect.signature(obj)
            except Exception as e:
                failed[f"{module.__name__}.{name}"] = f"{type(e).__name__}: {e}"
    print(json.dumps({"seen": seen, "failed": failed}))
    """
)


def test_every_signature_in_a_fresh_interpreter():
    out = subprocess.run([sys.executable, "-c", FRESH], env=dict(os.environ), capture_output=True,
                         text=True, timeout=120, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["seen"] >= len(CALLABLES) + len(RECURRING)
    assert result["failed"] == {}


def _defaults(text: str) -> list[ast.expr]:
    """The default expressions of a __text_signature__ ("($self, a=1, /)")."""
    text = text.replace("$", "").replace("/,", "").replace(", /)", ")").replace("(/)", "()")
    fn = ast.parse(f"def f{text}: pass").body[0]
    return list(fn.args.defaults) + [d for d in fn.args.kw_defaults if d is not None]


def test_defaults_need_no_import():
    # Every default is a literal (a number, string, None, True, False, -1, ...), so no signature
    # depends on what the interpreter has imported.
    for name, obj in {**CALLABLES, **{f"_recurring.{k}": v for k, v in RECURRING.items()}}.items():
        for d in _defaults(obj.__text_signature__):
            try:
                ast.literal_eval(d)
            except ValueError:
                raise AssertionError(f"{name}: default {ast.unparse(d)} is not a literal") from None
