"""Helpers for the papermill-parameterised notebooks.

``check_parameters()`` turns papermill's *warning* about an undeclared parameter into an
error: a notebook's first code cell is its ``parameters`` cell; papermill injects the
caller's values in a cell that starts with ``# Parameters``. Any name assigned there but
not in the parameters cell is a typo or a parameter this notebook does not take.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any, Callable, Iterable

from adlib.scales import check_scale


class ParameterError(ValueError):
    """A notebook was given a parameter it does not declare, or a bad value."""


def _assigned_names(source: str) -> list[str]:
    names: list[str] = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            if isinstance(t, ast.Name):
                names.append(t.id)
    return names


def declared_and_injected(cell_sources: Iterable[str]) -> tuple[list[str], list[str]]:
    """Names assigned in the first code cell (declared) and in papermill's injected cells."""
    declared: list[str] = []
    injected: list[str] = []
    first = True
    for src in cell_sources:
        if not src or not src.strip():
            continue
        if src.lstrip().startswith("# Parameters"):
            injected += _assigned_names(src)
        elif first:
            declared = _assigned_names(src)
            first = False
    return declared, injected


def _short_error(shell, etype, value, tb, tb_offset=None):  # IPython custom exception handler
    """Show errors that say what to do (a missing dataset, a bad parameter) without a traceback."""
    stb = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, stb)  # the kernel's hook that records an error output
    return stb


def install_short_errors() -> None:
    """In an IPython kernel, show :class:`ParameterError` and ``DatasetMissingError`` as one
    message instead of a traceback (the cell still fails, so papermill stops there)."""
    from IPython import get_ipython

    from adlib.data.manifests import DatasetMissingError

    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((ParameterError, DatasetMissingError), _short_error)


def check_parameters(namespace: dict[str, Any] | None = None,
                     validate: Callable[..., object] | None = None) -> dict[str, Any]:
    """Validate the parameters a notebook ran with; return them as a dict.

    Raises :class:`ParameterError` naming the valid parameters when papermill injected a name
    the parameters cell does not declare, turns an injected text that starts with ``[``, ``{`` or
    ``(`` into the literal it spells (``papermill -p seeds '[0,1]'`` passes a string), and checks
    ``scale`` and ``seeds``; ``validate`` (called
    with the parameters its signature names) adds the notebook's own checks, its ValueError
    becoming a ParameterError. In a kernel, it also makes the notebook's own clear errors show
    without a traceback, and applies the book's figure style (:mod:`adlib.plotting`).
    """
    if namespace is None:
        from IPython import get_ipython

        from adlib.plotting import use_book_style

        install_short_errors()
        use_book_style()
        namespace = get_ipython().user_ns
    history = namespace.get("In", [])
    declared, injected = declared_and_injected(history[1:])
    unknown = sorted(set(injected) - set(declared))
    if unknown:
        raise ParameterError(f"unknown notebook parameter(s) {', '.join(unknown)}; "
                             f"this notebook takes: {', '.join(declared)}")
    # papermill's `-p seeds '[0,1]'` passes the text: read it as a literal. Without input history
    # (nbval executes cells without storing it) every plain user variable is a candidate.
    candidates = injected if len(history) > 1 else [
        n for n in namespace if not n.startswith("_") and n not in ("In", "Out", "get_ipython", "exit", "quit", "open")]
    for name in candidates:
        value = namespace.get(name)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{", "("):
            try:
                namespace[name] = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                raise ParameterError(f"parameter {name} = {value!r} is not a valid Python/JSON literal") from None
    params = {name: namespace[name] for name in declared if name in namespace}
    if "scale" in params:
        try:
            check_scale(params["scale"])
        except ValueError as err:
            raise ParameterError(str(err)) from None
    if "seeds" in params:
        seeds = params["seeds"]
        if not isinstance(seeds, (list, tuple)) or not seeds or not all(isinstance(s, int) for s in seeds):
            raise ParameterError(f"seeds must be a non-empty list of integers, e.g. [0, 1, 2]; got {seeds!r}")
    if validate is not None:  # the notebook's own checks (a data split, a dataset name, ...)
        wanted = inspect.signature(validate).parameters
        try:
            validate(**{k: namespace[k] for k in wanted if k in namespace})
        except (ValueError, TypeError) as err:
            raise ParameterError(str(err)) from None
    return params
