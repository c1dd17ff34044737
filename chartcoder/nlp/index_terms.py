"""Alphabetic Index conventions (nlp/resources/index_conventions.yaml) expanded into curated terms.

Clinicians write diagnoses with the Index's main terms ("pectoralis major tendon rupture", "ruptured
globe", "penny in the esophagus"); the tabular names them otherwise ("Strain of other muscles ... at
shoulder and upper arm level", "Ocular laceration ...", "Other foreign object in esophagus ..."). The
resource writes each Index "see" reference as term templates over a site table; this module expands
them into {code, terms} entries of the same shape as synonyms.yaml, which the phrase matcher
(chartcoder.nlp.concepts) and the diagnosis-line retriever (chartcoder.models.retrieval) both read.
Side and 7th character are left to the engine's `refine`, as for every other curated term.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chartcoder.domain.errors import ResourceError
from chartcoder.nlp.resources import load_yaml_resource

FILE = "index_conventions.yaml"
_KEYS = frozenset({"words", "conventions", "site_lists"})
_CONVENTION_KEYS = frozenset({"id", "follows", "words", "forms", "retrieval", "kind", "kinds", "sites", "site_list"})
_SITE_KEYS = frozenset({"code", "codes", "names", "forms"})  # plus word lists of the site's own
_SLOT = re.compile(r"\{([a-z_]+)\}")
MAX_TERMS = 200_000  # a template that multiplies out of all proportion is a mistake in the file


@dataclass(frozen=True)
class IndexEntry:
    """Terms of one code under one convention: `terms` for the phrase matcher (every word order the
    templates give), `retrieval` for the retriever (which reads words in any order and form)."""

    convention: str
    code: str
    terms: tuple[str, ...]
    retrieval: tuple[str, ...]


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ResourceError(f"{FILE} {where}: expected a list of strings")
    return list(value)


def _mapping(value: Any, where: str, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ResourceError(f"{FILE} {where}: expected a mapping")
    if allowed is not None and set(value) - allowed:
        raise ResourceError(f"{FILE} {where}: unknown keys {sorted(set(value) - allowed)}")
    return value


def expand(template: str, words: dict[str, list[str]], where: str) -> list[str]:
    """Every filling of a template's slots; an empty entry leaves its slot out."""
    slots = _SLOT.findall(template)
    for s in slots:
        if s not in words:
            raise ResourceError(f"{FILE} {where}: template {template!r} names no word list {s!r}")
    parts = _SLOT.split(template)  # literal, slot name, literal, slot name, ..., literal
    out = []
    for filling in itertools.product(*(words[s] for s in slots)):
        pieces = [p if k % 2 == 0 else filling[k // 2] for k, p in enumerate(parts)]
        text = " ".join("".join(pieces).split())
        if text:
            out.append(text)
    return out


def _site_words(site: dict[str, Any], words: dict[str, list[str]], where: str) -> dict[str, list[str]]:
    own = {k: _strings(v, f"{where}.{k}") for k, v in site.items() if k not in _SITE_KEYS}
    return {**words, **own, "site": _strings(site.get("names"), f"{where}.names")}


@lru_cache(maxsize=1)
def index_entries() -> tuple[IndexEntry, ...]:
    """The expanded conventions (read once per process)."""
    data = _mapping(load_yaml_resource(FILE), "top level", _KEYS)
    shared = {str(k): _strings(v, f"words.{k}") for k, v in _mapping(data.get("words") or {}, "words").items()}
    lists = {str(k): v for k, v in _mapping(data.get("site_lists") or {}, "site_lists").items() if isinstance(v, list)}
    conventions = data.get("conventions")
    if not isinstance(conventions, list):
        raise ResourceError(f"{FILE} conventions: expected a list")
    out: list[IndexEntry] = []
    seen_ids: set[str] = set()
    total = 0
    for i, raw in enumerate(conventions):
        conv = _mapping(raw, f"conventions[{i}]", _CONVENTION_KEYS)
        cid = str(conv.get("id") or "")
        if not cid or cid in seen_ids:
            raise ResourceError(f"{FILE} conventions[{i}]: missing or repeated id {cid!r}")
        seen_ids.add(cid)
        if not conv.get("follows"):
            raise ResourceError(f"{FILE} {cid}: say which Index convention or guideline it follows")
        for entry in _convention_entries(conv, cid, shared, lists):
            total += len(entry.terms)
            if total > MAX_TERMS:
                raise ResourceError(f"{FILE}: the templates expand to more than {MAX_TERMS} terms")
            out.append(entry)
    return tuple(out)


def _convention_entries(
    conv: dict[str, Any], cid: str, shared: dict[str, list[str]], lists: dict[str, list[Any]]
) -> Iterator[IndexEntry]:
    """The entries of one convention, site by site, expanded as they are needed (a template that
    multiplies out of all proportion stops at MAX_TERMS, in index_entries)."""
    own = {str(k): _strings(v, f"{cid}.words.{k}") for k, v in _mapping(conv.get("words") or {}, "words").items()}
    words = {**shared, **own}
    sites = _convention_sites(conv, cid, lists)
    kinds = _mapping(conv.get("kinds") or {}, f"{cid}.kinds")
    forms = _strings(conv.get("forms") or [], f"{cid}.forms")
    retrieval = _strings(conv["retrieval"], f"{cid}.retrieval") if "retrieval" in conv else forms[:1]
    for j, raw_site in enumerate(sites):
        where = f"{cid}.sites[{j}]"
        site = _mapping(raw_site, where)
        site_words = _site_words(site, words, where)
        jobs = _kind_jobs(site, kinds, cid, where) if kinds else [_site_job(conv, site, forms, retrieval, where)]
        for code, fs, rs in jobs:
            terms = list(dict.fromkeys(t for f in fs for t in expand(f, site_words, where)))
            ret = list(dict.fromkeys(t for f in rs for t in expand(f, site_words, where)))
            yield IndexEntry(cid, code, tuple(terms), tuple(ret))


def _convention_sites(conv: dict[str, Any], cid: str, lists: dict[str, list[Any]]) -> list[Any]:
    """A convention's sites: its own, or a shared site list it names."""
    if "site_list" in conv:
        sites = lists.get(str(conv["site_list"]))
        if sites is None:
            raise ResourceError(f"{FILE} {cid}: no site list {conv['site_list']!r}")
    else:
        sites = conv.get("sites")
    if not isinstance(sites, list) or not sites:
        raise ResourceError(f"{FILE} {cid}: expected sites or a site_list")
    return sites


# (code, term templates, retrieval templates) of one entry to expand
_Job = tuple[str, list[str], list[str]]


def _kind_jobs(site: dict[str, Any], kinds: dict[str, Any], cid: str, where: str) -> list[_Job]:
    """A convention with kinds: one entry per kind the site has a code for, with the kind's forms
    (and no retrieval terms)."""
    codes = _mapping(site.get("codes"), f"{where}.codes")
    jobs: list[_Job] = []
    for kind, kind_forms in kinds.items():
        if kind in codes:
            kf = _strings(kind_forms, f"{cid}.kinds.{kind}")
            jobs.append((str(codes[kind]), kf, []))
    return jobs


def _site_job(conv: dict[str, Any], site: dict[str, Any], forms: list[str], retrieval: list[str], where: str) -> _Job:
    """A convention without kinds: the site's code (or its code of the convention's kind), with the
    site's own forms when it has them (the first of them for retrieval, unless the convention says),
    else the convention's."""
    if "code" in site:
        code = str(site["code"])
    elif conv.get("kind") and isinstance(site.get("codes"), dict) and conv["kind"] in site["codes"]:
        code = str(site["codes"][conv["kind"]])
    else:
        raise ResourceError(f"{FILE} {where}: expected a code (or codes with {conv.get('kind')!r})")
    site_forms = _strings(site["forms"], f"{where}.forms") if "forms" in site else forms
    own_forms = "forms" in site and "retrieval" not in conv
    return code, site_forms, site_forms[:1] if own_forms else retrieval


def synonym_entries(retrieval: bool = False) -> list[dict[str, Any]]:
    """The conventions as synonyms.yaml-shaped entries ({code, terms}); with `retrieval`, the few
    terms the diagnosis-line retriever reads."""
    return [
        {"code": e.code, "terms": list(e.retrieval if retrieval else e.terms), "note": e.convention}
        for e in index_entries()
        if (e.retrieval if retrieval else e.terms)
    ]
