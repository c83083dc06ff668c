"""Export formats as plug-ins: each format is one `ExportFormat` entry, declared in the module that writes it.

The dataset page, the API (?format= choices, schema, content type, file name), the background exports and the
export_dataset command all read this registry, so adding a format is one file: a module in this package
(found and imported here) or any module that calls `register(ExportFormat(...))`. Nothing here imports
Django; writers work on plain ExportItems (curation.datasets.exports).
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# items (ExportItems, in example-id order), metadata (id, split, attribution wanted) -> bytes
Streamer = Callable[[Iterable, bool], Iterator[bytes]]
# {split: () -> its items}, folder to create, metadata -> None
FolderWriter = Callable[[dict[str, Callable[[], Iterable]], Path, bool], None]


@dataclass(frozen=True)
class ExportFormat:
    name: str  # the ?format= value, --format of export_dataset, and part of the file name
    label: str  # shown on the dataset page
    note: str  # one line beside it: what a reader of the file gets
    content_type: str  # of the HTTP download
    extension: str  # of the file: lima-v3-openai-train.jsonl
    stream: Streamer | None = None  # one file, streamed as it is written...
    write_folder: FolderWriter | None = None  # ...or a folder, with every split, sent over HTTP as a tar
    row: Callable[[list, str], dict] | None = None  # JSONL formats: (turns, source) -> the row without metadata
    file_tag: str = ""  # the word in file names, when it is not the name (lima-v3-all-train.parquet)
    rank: int = 100  # where it sits in lists: lower first

    def __post_init__(self):
        if (self.stream is None) == (self.write_folder is None):
            raise ValueError(f"Export format {self.name!r}: give either stream or write_folder.")

    @property
    def is_folder(self):
        return self.write_folder is not None


_REGISTRY: dict[str, ExportFormat] = {}


def register(fmt: ExportFormat) -> ExportFormat:
    """Add a format (a module calls this when it is imported); a second, different one of the same name is an error."""
    known = _REGISTRY.get(fmt.name)
    if known is not None and known != fmt:
        raise ValueError(f"Two export formats are called {fmt.name!r}.")
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def all_formats() -> list[ExportFormat]:
    return sorted(_REGISTRY.values(), key=lambda fmt: fmt.rank)  # stable: equal ranks keep registration order


def get_format(name: str) -> ExportFormat | None:
    return _REGISTRY.get(name)


class FormatNames:
    """The registered formats' names in order, as a live view: `in`, iteration and len() always see the registry
    as it is now, so a format registered after this module was imported is a valid choice everywhere."""

    def __iter__(self):
        return iter([fmt.name for fmt in all_formats()])

    def __len__(self):
        return len(_REGISTRY)

    def __contains__(self, name):
        return name in _REGISTRY

    def __repr__(self):
        return f"FormatNames({list(self)})"


EXPORT_FORMATS = FormatNames()


def _declare_built_in_formats():
    """Import every module of this package (not _private ones): each registers the formats it writes."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_declare_built_in_formats()
