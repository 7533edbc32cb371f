"""Does this package accept every call the original's public API accepts?

``differences(source_root)`` reads the original's modules from its source tree (``ast``: the
original is not imported, it needs libraries this package does not) and compares each public
function's and public class method's parameters with this package's ``inspect.signature``. A
signature is compatible when every call valid for the original is valid for ours: the original's
positional parameters in the same order and with the same names (users pass them by keyword),
its keyword-only ones present, nothing required that the original has optional, anything ours
adds optional. Returns one line per public name that is missing or incompatible.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os

POS, VAR, KW, VARKW = "pos", "var", "kw", "varkw"
KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: POS,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: POS,
    inspect.Parameter.VAR_POSITIONAL: VAR,
    inspect.Parameter.KEYWORD_ONLY: KW,
    inspect.Parameter.VAR_KEYWORD: VARKW,
}


def _original(fn: ast.FunctionDef, method: bool) -> list[tuple[str, str, bool]]:
    a = fn.args
    pos = a.posonlyargs + a.args
    first_default = len(pos) - len(a.defaults)
    out = [(p.arg, POS, i >= first_default) for i, p in enumerate(pos)]
    if a.vararg:
        out.append((a.vararg.arg, VAR, True))
    out += [(p.arg, KW, d is not None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append((a.kwarg.arg, VARKW, True))
    decorators = {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}
    if method and "staticmethod" not in decorators and out and out[0][1] == POS:
        out = out[1:]  # self or cls
    return out


def _ours(obj: object, method: bool) -> list[tuple[str, str, bool]] | None:
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None  # a C function without a signature: nothing to compare
    out = [(p.name, KINDS[p.kind], p.default is not p.empty or KINDS[p.kind] in (VAR, VARKW))
           for p in sig.parameters.values()]  # fmt: skip
    # (a module function may name its first parameter self too: the original's
    # warn_if_global_in_subprocess(self) does)
    return out[1:] if method and out and out[0][0] in ("self", "cls") else out


def compatible(orig: list[tuple[str, str, bool]], ours: list[tuple[str, str, bool]]) -> bool:
    kinds = {k for _, k, _ in ours}
    by_name = {n: (k, opt) for n, k, opt in ours}
    our_pos = [p for p in ours if p[1] == POS]
    orig_pos = [p for p in orig if p[1] == POS]
    for i, (name, _, optional) in enumerate(orig_pos):
        # by position as the original, and by its name (ours may take it under another name
        # positionally when it also accepts the original's by keyword: 0.8's sync_cuda)
        if i < len(our_pos):
            if optional and not our_pos[i][2]:
                return False
        elif VAR not in kinds:
            return False
        if name not in by_name and VARKW not in kinds:
            return False
    for name, kind, optional in orig:
        if kind == KW and name not in by_name and VARKW not in kinds:
            return False
        if kind == KW and name in by_name and optional and not by_name[name][1]:
            return False
        if kind in (VAR, VARKW) and kind not in kinds:
            return False
    orig_names = {n for n, _, _ in orig}
    return all(opt for n, _, opt in ours if n not in orig_names)


def _public_defs(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, None, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield node.name, None, node
            for f in node.body:
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    f.name == "__init__" or not f.name.startswith("_")
                ):
                    yield node.name, f.name, f


def differences(source_root: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Lines ``MISSING name`` / ``SIGNATURE name: original ... ours ...`` for the modules under
    ``source_root/zeus`` (modules whose dotted name starts with an entry of ``skip`` are not
    read)."""
    out = []
    for folder, dirs, files in os.walk(os.path.join(source_root, "zeus")):
        dirs.sort()
        for file in sorted(files):
            if not file.endswith(".py") or (file.startswith("_") and file != "__init__.py"):
                continue
            path = os.path.join(folder, file)
            module = os.path.relpath(path, source_root)[:-3].replace(os.sep, ".")
            module = module.removesuffix(".__init__")
            if module.startswith(skip) or "._" in module:
                continue
            tree = ast.parse(open(path, encoding="utf-8").read())
            try:
                ours_module = importlib.import_module(module)
            except ImportError as e:
                out.append(f"MISSING {module}: {e}")
                continue
            for cls, method, node in _public_defs(tree):
                name = f"{module}.{cls}" + (f".{method}" if method else "")
                obj = getattr(ours_module, cls, None)
                if obj is not None and method:
                    obj = getattr(obj, method, None)
                if obj is None:
                    out.append(f"MISSING {name}")
                    continue
                if isinstance(node, ast.ClassDef) or any(
                    isinstance(d, (ast.Name, ast.Attribute))
                    and getattr(d, "id", getattr(d, "attr", "")) in ("property", "cached_property")
                    for d in node.decorator_list
                ):
                    continue
                orig, ours = _original(node, method is not None), _ours(obj, method is not None)
                if ours is not None and not compatible(orig, ours):
                    out.append(f"SIGNATURE {name}: original {orig} ours {ours}")
    return out
