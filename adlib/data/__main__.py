"""Command line for the dataset manifests: ``python -m adlib.data {list,fetch,verify,where} [NAME...]``.

* ``list [NAME...]``   -- table of datasets: name, title, how to get it, whether it is here.
* ``fetch NAME...``    -- download, verify and unpack (``--data-dir``, ``--trust-unverified``).
* ``verify NAME...``   -- check every file against its checksums; exit 1 if any fails.
* ``where NAME...``    -- print the verified directory of each dataset; exit 1 if one is missing.

This path never imports torch, so it starts quickly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence, TextIO

from adlib.data import manifests as m


def _availability(manifest: m.Manifest) -> str:
    if manifest.derived_from is not None:
        return f"from {manifest.derived_from}"
    if manifest.withdrawn:
        return "withdrawn"
    if manifest.bundled_with:
        return f"bundled ({manifest.bundled_with})"
    if manifest.registration_required:
        return "registration"
    if not manifest.downloadable:
        return "by hand"
    return "download"


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")


def cmd_list(names: Sequence[str], out: TextIO) -> int:
    """Print a table of the datasets (all, or ``names``); presence is a cheap size check."""
    rows = [("name", "title", "get it by", "present here")]
    for name in names or m.list_manifests():
        manifest = m.load_manifest(name)
        present = m.find_present(manifest)
        title = manifest.title if len(manifest.title) <= 48 else manifest.title[:45] + "..."
        rows.append((manifest.name, title, _availability(manifest), str(present) if present else "no"))
    _table(rows, out)
    out.write("\n'present here' checks names and sizes only; run `verify` to check checksums.\n")
    return 0


def cmd_fetch(names: Sequence[str], data_dir: str | None, trust_unverified: bool, progress: bool,
              out: TextIO, err: TextIO) -> int:
    """Fetch each dataset; report where it is, or why it could not be fetched."""
    status = 0
    for name in names:
        try:
            path = m.fetch(name, data_dir=data_dir, progress=progress, trust_unverified=trust_unverified)
        except (m.DatasetMissingError, m.ChecksumError, m.DownloadError, m.UnverifiedDownloadError,
                m.UnsafeArchiveError) as exc:
            err.write(f"{name}: {exc}\n")
            status = 1
            continue
        out.write(f"{name}: {path}\n")
    return status


def cmd_verify(names: Sequence[str], out: TextIO) -> int:
    """Verify each file of each dataset in every data directory; 0 only if all verify."""
    status = 0
    for name in names:
        manifest = m.load_manifest(name)
        if manifest.derived_from is not None:
            source = m.data_manifest(manifest)
            out.write(f"{name}: has no files of its own; it uses those of {source.name}\n")
            manifest, name = source, source.name
        results = m.verify(manifest)
        if not manifest.files:
            present = m.find_present(manifest)
            if present is not None:
                out.write(f"{name}: present at {present} (no files listed, nothing to verify)\n")
            else:
                out.write(f"{name}: MISSING\n")
                try:
                    m.locate(manifest)
                except m.DatasetMissingError as exc:
                    out.write(f"{exc}\n")
                status = 1
            continue
        for filename, ok in results.items():
            entry = manifest.file(filename)
            note = "" if entry.has_hash else " (no published checksum: presence only)"
            out.write(f"{name}/{filename}: {'OK' if ok else 'FAILED or missing'}{note if ok else ''}\n")
            status |= not ok
        if not all(results.values()):
            try:
                m.locate(manifest)
            except m.DatasetMissingError as exc:
                out.write(f"{exc}\n")
    return int(bool(status))


def cmd_where(names: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Print the verified directory of each dataset, or the reason it is missing."""
    status = 0
    for name in names:
        try:
            out.write(f"{name}: {m.locate(name)}\n")
        except m.DatasetMissingError as exc:
            err.write(f"{exc}\n")
            status = 1
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m adlib.data``."""
    parser = argparse.ArgumentParser(prog="python -m adlib.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="table of datasets and whether they are here")
    p_list.add_argument("names", nargs="*", metavar="NAME")
    p_fetch = sub.add_parser("fetch", help="download, verify and unpack datasets")
    p_fetch.add_argument("names", nargs="+", metavar="NAME")
    p_fetch.add_argument("--data-dir", default=None, help="target directory (default: $ADLIB_DATA/NAME or ./data/NAME)")
    p_fetch.add_argument("--trust-unverified", action="store_true",
                         help="allow downloading files for which no checksum is published")
    p_fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_verify = sub.add_parser("verify", help="check files against their checksums")
    p_verify.add_argument("names", nargs="+", metavar="NAME")
    p_where = sub.add_parser("where", help="print the verified directory of each dataset")
    p_where.add_argument("names", nargs="+", metavar="NAME")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a dataset failed, 2 usage error)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.names, out)
        if args.command == "fetch":
            return cmd_fetch(args.names, args.data_dir, args.trust_unverified, not args.no_progress, out, err)
        if args.command == "verify":
            return cmd_verify(args.names, out)
        return cmd_where(args.names, out, err)
    except (ValueError, FileNotFoundError) as exc:  # unknown name, broken manifest, no manifest dir
        err.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
