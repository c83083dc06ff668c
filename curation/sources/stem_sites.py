"""LIMA's grouping of Stack Exchange sites into STEM and other (LIMA.md: 200 + 200), and the sites left
out (meta sites, and the niche list), read from the editable stem_sites.toml beside this file."""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

SITE_GROUPS_FILE = Path(__file__).resolve().parent / "stem_sites.toml"
# Lists of the file that are not groups.
NOT_GROUPS = ("niche",)


def _short_site_name(site: str) -> str:
    site = site.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return site.removesuffix(".stackexchange.com")


@lru_cache(maxsize=8)
def _load(path: str) -> tuple[dict[str, str], frozenset[str]]:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    groups: dict[str, str] = {}
    for group, sites in data.items():
        if not isinstance(sites, list):
            raise ValueError(f"{path}: {group!r} must be a list of site names")
        if group in NOT_GROUPS:
            continue
        for site in sites:
            groups[_short_site_name(site)] = group
    return groups, frozenset(_short_site_name(site) for site in data.get("niche", []))


def load_site_groups(path: str | Path | None = None) -> dict[str, str]:
    """Site short name -> group ("stem" / "other") from the editable TOML mapping."""
    return dict(_load(str(path or SITE_GROUPS_FILE))[0])


def niche_sites(path: str | Path | None = None) -> list[str]:
    """The sites left out by default (the file's ``niche`` list), as short names."""
    return sorted(_load(str(path or SITE_GROUPS_FILE))[1])


def is_meta_site(site: str) -> bool:
    """meta.stackexchange.com, <site>.meta.stackexchange.com, meta.stackoverflow.com ...: the sites
    about the sites."""
    name = _short_site_name(site)
    return name == "meta" or name.startswith("meta.") or name.endswith(".meta") or ".meta." in name


def is_niche_site(site: str, niche: frozenset[str] | set[str] | list[str] | None = None) -> bool:
    """Whether ``site`` is one of ``niche`` (default: the file's list); names as in the file."""
    names = {_short_site_name(name) for name in (niche_sites() if niche is None else niche)}
    return _short_site_name(site) in names


def site_group(site: str, groups: Mapping[str, str] | None = None, default: str = "other") -> str:
    """The group of a site ("coffee.stackexchange.com" -> "other"); unknown and meta sites go to
    ``default``."""
    groups = load_site_groups() if groups is None else groups
    if is_meta_site(site):
        return default
    return groups.get(_short_site_name(site), default)
