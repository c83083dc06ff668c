"""LIMA's grouping of Stack Exchange sites into STEM and other (LIMA.md: 200 + 200), read from the editable
stem_sites.toml beside this file."""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

SITE_GROUPS_FILE = Path(__file__).resolve().parent / "stem_sites.toml"


def _short_site_name(site: str) -> str:
    site = site.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return site.removesuffix(".stackexchange.com")


@lru_cache(maxsize=8)
def _load_site_groups(path: str) -> dict[str, str]:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    groups: dict[str, str] = {}
    for group, sites in data.items():
        if not isinstance(sites, list):
            raise ValueError(f"{path}: {group!r} must be a list of site names")
        for site in sites:
            groups[_short_site_name(site)] = group
    return groups


def load_site_groups(path: str | Path | None = None) -> dict[str, str]:
    """Site short name -> group ("stem" / "other") from the editable TOML mapping."""
    return dict(_load_site_groups(str(path or SITE_GROUPS_FILE)))


def site_group(site: str, groups: Mapping[str, str] | None = None, default: str = "other") -> str:
    """The group of a site ("coffee.stackexchange.com" -> "other"); unknown and meta sites go to
    ``default``."""
    groups = load_site_groups() if groups is None else groups
    name = _short_site_name(site)
    if name.startswith("meta.") or ".meta" in name:
        return default
    return groups.get(name, default)
