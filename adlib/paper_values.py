"""Machine-readable values reported in the five papers.

Every table (and every figure whose numbers the paper or its spec gives) of the
five papers is stored under ``adlib/papers/<paper>/values/``:

* ``index.yaml`` lists the artefacts in paper order with caption, notes and the
  paper's own inconsistencies (noted, never fixed);
* one long-format CSV per artefact: row-key columns, then ``method``,
  ``metric``, ``value`` (float, empty where the paper prints "-" or nothing),
  ``printed`` (the string exactly as printed) and optionally ``std``.

Example::

    >>> from adlib import paper_values as pv
    >>> pv.pivot_values("hendrycks2019", "table1", index=["d_in"])  # doctest: +SKIP
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
import yaml

__all__ = [
    "PAPERS",
    "VALUE_COLUMNS",
    "values_dir",
    "load_index",
    "list_artefacts",
    "get_artefact",
    "load_values",
    "row_key_columns",
    "pivot_values",
    "parse_printed",
    "paper_row",
    "paper_value",
    "paper_printed",
    "printed_number",
]

#: The five papers, in the book's order.
PAPERS: tuple[str, ...] = (
    "hendrycks2019",
    "ruff2021",
    "singh2021",
    "ahmed2020",
    "rafiee2021",
)

#: Columns that every artefact CSV ends with (``std`` is optional and last).
VALUE_COLUMNS: tuple[str, ...] = ("method", "metric", "value", "printed")

_PKG_DIR = Path(__file__).resolve().parent / "papers"


def _check_paper(paper: str) -> str:
    if paper not in PAPERS:
        raise ValueError(
            f"unknown paper {paper!r}; valid papers: {', '.join(PAPERS)}"
        )
    return paper


def values_dir(paper: str) -> Path:
    """Directory holding ``index.yaml`` and the CSVs of ``paper``."""
    return _PKG_DIR / _check_paper(paper) / "values"


@lru_cache(maxsize=None)
def _load_index_cached(paper: str) -> dict:
    path = values_dir(paper) / "index.yaml"
    if not path.is_file():
        raise ValueError(f"no paper values stored for {paper!r} (missing {path})")
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_index(paper: str) -> dict:
    """The parsed ``index.yaml`` of ``paper`` (a fresh copy; safe to mutate)."""
    import copy

    return copy.deepcopy(_load_index_cached(_check_paper(paper)))


def list_artefacts(paper: str) -> list[dict]:
    """All artefacts (tables, figures, ...) of ``paper`` in paper order."""
    return load_index(paper)["artefacts"]


def get_artefact(paper: str, artefact: str) -> dict:
    """The index entry of one artefact (ValueError if unknown)."""
    arts = list_artefacts(paper)
    for art in arts:
        if art["id"] == artefact:
            return art
    raise ValueError(
        f"unknown artefact {artefact!r} for paper {paper!r}; valid artefacts: "
        + ", ".join(a["id"] for a in arts)
    )


def load_values(paper: str, artefact: str) -> pd.DataFrame:
    """Long-format values of one artefact, exactly as stored.

    Row-key columns, ``method``, ``metric`` and ``printed`` are strings;
    ``value`` (and ``std`` where present) are floats (NaN where the paper
    prints "-" or nothing).
    """
    art = get_artefact(paper, artefact)
    if not art.get("file"):
        with_files = [a["id"] for a in list_artefacts(paper) if a.get("file")]
        raise ValueError(
            f"artefact {artefact!r} of {paper!r} has no numbers (file: null); "
            "artefacts with values: " + ", ".join(with_files)
        )
    path = values_dir(paper) / art["file"]
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    for col in ("value", "std"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col].replace("", None), errors="raise").astype(
                float
            )
    return df


def row_key_columns(df: pd.DataFrame) -> list[str]:
    """The row-key columns of a long-format frame (everything before ``method``)."""
    cols = list(df.columns)
    return cols[: cols.index("method")]


def pivot_values(
    paper: str,
    artefact: str,
    index: Sequence[str] | None = None,
    columns: Sequence[str] = ("metric", "method"),
    values: str = "value",
) -> pd.DataFrame:
    """Lay an artefact out like the paper (rows = ``index``, columns = ``columns``).

    ``index`` defaults to the artefact's row-key columns.  Row and column
    order follows the order of first appearance in the CSV (i.e. the paper's
    order), not alphabetical order.  Use ``values="printed"`` to get the
    strings as printed.
    """
    df = load_values(paper, artefact)
    index = list(index) if index is not None else row_key_columns(df)
    columns = list(columns)
    for col in index + columns + [values]:
        if col not in df.columns:
            raise ValueError(
                f"column {col!r} not in {paper}/{artefact}; columns: {list(df.columns)}"
            )
    if not index:
        df = df.assign(_row="")
        index = ["_row"]
    table = df.pivot_table(
        index=index,
        columns=columns,
        values=values,
        aggfunc="first",
        sort=False,
        dropna=False,
    )
    row_order = _unique_tuples(df, index)
    col_order = _unique_tuples(df, columns)
    table = table.reindex(index=_as_index(row_order, index), columns=_as_index(col_order, columns))
    return table


def _unique_tuples(df: pd.DataFrame, cols: Iterable[str]) -> list[tuple]:
    cols = list(cols)
    seen: dict[tuple, None] = {}
    for tup in df[cols].itertuples(index=False, name=None):
        seen.setdefault(tuple(tup), None)
    return list(seen)


def _as_index(tuples: list[tuple], names: list[str]) -> pd.Index:
    if len(names) == 1:
        return pd.Index([t[0] for t in tuples], name=names[0])
    return pd.MultiIndex.from_tuples(tuples, names=names)


def parse_printed(printed: str) -> tuple[float | None, float | None]:
    """Parse a printed cell into ``(value, std)``.

    Handles ``100.``, ``0.98``, ``97.3±0.2``, ``97.3 ± 0.2``, a trailing ``%``,
    literature markers (``*``, ``†``, ``‡``, ``§``, ``a``-style superscripts are
    not stripped) and "-"/empty (returns ``(None, None)``).
    """
    s = (printed or "").strip()
    for marker in ("*", "†", "‡", "§", "%"):
        s = s.replace(marker, "")
    s = s.replace("−", "-").replace("–", "-").strip()
    if s in ("", "-", "--", "—", "n/a", "N/A", "NA"):
        return None, None
    std: float | None = None
    for sep in ("±", "+-", "+/-"):
        if sep in s:
            left, right = s.split(sep, 1)
            s, std = left.strip(), float(right.strip().rstrip(")").lstrip("("))
            break
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    return float(s), std


def paper_row(paper: str, artefact: str, **selectors: str) -> pd.Series:
    """The one row of an artefact whose columns equal ``selectors`` (compared as strings).

    Raises ValueError naming the artefact and the selection when a selector is not a column,
    or when the selection matches no row or more than one (listing what would disambiguate).

    >>> paper_row("ruff2021", "table1", method="BCE").printed  # doctest: +SKIP
    '96.1'
    """
    df = load_values(paper, artefact)
    unknown = [k for k in selectors if k not in df.columns]
    if unknown:
        raise ValueError(f"{paper}/{artefact}: no column(s) {', '.join(unknown)}; "
                         f"columns: {', '.join(df.columns)}")
    hit = df
    for col, want in selectors.items():
        hit = hit[hit[col] == str(want)]
    if len(hit) != 1:
        what = ", ".join(f"{k}={v!r}" for k, v in selectors.items()) or "no selectors"
        if hit.empty:
            raise ValueError(f"{paper}/{artefact}: no row with {what}")
        keys = [c for c in row_key_columns(df) + ["method", "metric"]
                if c not in selectors and hit[c].nunique() > 1]
        raise ValueError(f"{paper}/{artefact}: {len(hit)} rows with {what}; "
                         f"select on {', '.join(keys) or 'more columns'} too")
    return hit.iloc[0]


def paper_value(paper: str, artefact: str, **selectors: str) -> float:
    """The reported ``value`` of the one row selected by ``selectors`` (see :func:`paper_row`)."""
    return float(paper_row(paper, artefact, **selectors)["value"])


def printed_number(printed: str) -> str:
    """The number of a printed cell, as printed: without its "± std", "%" and literature
    markers (``"43.30 ± 1.13"`` -> ``"43.30"``, ``"5.16%"`` -> ``"5.16"``, ``"64.8*"`` -> ``"64.8"``)."""
    s = (printed or "").split("±")[0]
    for marker in ("*", "†", "‡", "§", "%"):
        s = s.replace(marker, "")
    return s.replace("−", "-").strip()


def paper_printed(paper: str, artefact: str, **selectors: str) -> str:
    """The reported number of the one row selected by ``selectors``, as the paper prints it
    (:func:`printed_number` of its ``printed`` cell): the text to quote in prose."""
    return printed_number(paper_row(paper, artefact, **selectors)["printed"])
