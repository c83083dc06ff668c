"""Source kinds as plug-ins: each parser module declares, at its end, what the rest of the studio needs of it —
how its records are sampled, what a Source of it is called by default, which files progress is read from, and
which of LIMA's groups (Table 1) an example of it counts in on the dashboard.

    SOURCE = register(SourceKind(kind="wikihow", label="wikiHow", parser=__name__, targets=200, ...))

Adding a source is one module in curation/sources/ (pure, no Django): nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TAU = 3.0  # LIMA.md: "temperature tau = 3"


@dataclass(frozen=True)
class SourceKind:
    kind: str  # stored in Source.kind
    label: str  # shown in pages
    parser: str | None = None  # the module with iter_records(path, *, seed, stats, **options); None: not importable
    # Default sampling: a target per group (groups from stem_sites.toml), one target, or None to keep every
    # accepted record (sources people choose from by hand, and ready-made conversation files).
    targets: int | dict | None = None
    tau: float | None = DEFAULT_TAU
    within: str = "top"  # within a domain: best-ranked first, or at random
    passes: int = 1  # how many times the parser reads its input (for the progress bar)
    licence: str = ""
    url: str = ""
    # default_name(path, options) -> the Source's name when none is given (default: `fixed_name` or the file's)
    default_name: Callable[[Path, dict], str] | None = None
    fixed_name: str = ""
    # input_files(path, options) -> the files read, for the progress bar (default: the file, or a folder's files)
    input_files: Callable[[Path, dict], list] | None = None
    # bucket(domain, metadata, site_groups) -> the dashboard group of an example (default: the first of `buckets`)
    bucket: Callable[[str, dict, dict | None], str] | None = None
    # The dashboard groups this source contributes: {key: (label, place)}, the place in LIMA's Table 1's order.
    buckets: dict = field(default_factory=dict)
    order: int = 100  # where the kind comes in lists

    @property
    def importable(self) -> bool:
        return self.parser is not None

    def module(self):
        return importlib.import_module(self.parser)

    def name_for(self, path, options) -> str:
        if self.default_name is not None:
            return self.default_name(Path(path), options)
        return self.fixed_name or Path(path).name

    def files_for(self, path, options) -> list:
        if self.input_files is not None:
            return self.input_files(Path(path), options)
        path = Path(path)
        if path.is_file():
            return [path]
        if path.is_dir():
            return sorted(p for p in path.rglob("*") if p.is_file()
                          and not any(part.startswith(".") for part in p.relative_to(path).parts))
        return []

    def bucket_of(self, domain="", metadata=None, site_groups=None) -> str:
        if self.bucket is not None:
            return self.bucket(domain or "", metadata or {}, site_groups)
        return next(iter(self.buckets), "other")


REGISTRY: dict[str, SourceKind] = {}
_discovered = False


def register(source: SourceKind) -> SourceKind:
    if source.kind in REGISTRY and REGISTRY[source.kind] != source:
        raise ValueError(f"a source kind {source.kind!r} is already registered")
    REGISTRY[source.kind] = source
    return source


def _discover():
    """Import every module of curation/sources/ once: each registers the kind it reads."""
    global _discovered
    if not _discovered:
        _discovered = True
        package = importlib.import_module("curation.sources")
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_") and info.name != "plugins":
                importlib.import_module(f"curation.sources.{info.name}")


def all_kinds() -> list[SourceKind]:
    _discover()
    return sorted(REGISTRY.values(), key=lambda source: (source.order, source.kind))


def get(kind) -> SourceKind:
    _discover()
    try:
        return REGISTRY[kind]
    except KeyError:
        known = ", ".join(source.kind for source in all_kinds())
        raise LookupError(f"Unknown source kind {kind!r}: expected one of {known}.") from None


def importable_kinds() -> tuple[str, ...]:
    return tuple(source.kind for source in all_kinds() if source.importable)


def kind_choices():
    """Source.kind's choices (a callable, so a new source module needs no migration of its own)."""
    return [(source.kind, source.label) for source in all_kinds()]


def buckets() -> dict:
    """Every dashboard group, {key: label}, in the order of LIMA's Table 1, "other" last."""
    found = {key: entry for source in all_kinds() for key, entry in source.buckets.items()}
    ordered = sorted(found.items(), key=lambda item: item[1][1])
    return {**{key: label for key, (label, _place) in ordered}, "other": "Other"}
