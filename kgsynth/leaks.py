"""Findings that give the answer away: naming a gene's product or activity, or restating the diagnosis.

The rules (``graph_schemas/leaks/NAME.yaml``): a finding whose name matches a molecular-activity pattern
("Reduced hepatic glyoxylate reductase activity") names the product of the gene on the path; a finding that
shares ``min_shared_words`` distinctive words with a name or synonym of the diagnosis ("periodic hypokalemic
paresis" for hypokalemic periodic paralysis) restates it. Generation never states either
(:mod:`kgsynth.vignette`, :func:`kgsynth.draft.walk_problem`); ``kgsynth audit`` counts both
(:func:`kgsynth.audit.check_finding_leaks`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cache, lru_cache

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgsynth.curation import check_regexes, content_tokens
from kgsynth.errors import KgsynthError
from kgsynth.resources import schemas_dir

logger = logging.getLogger(__name__)


class LeakRules(BaseModel):
    """The leak rules of one schema."""

    model_config = ConfigDict(extra="forbid")

    name: str
    molecular_finding_patterns: list[str] = Field(default_factory=list)
    min_shared_words: int = Field(default=2, ge=1)

    @field_validator("molecular_finding_patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return check_regexes(v)

    def molecular(self, names: Iterable[str]) -> str | None:
        """The first of ``names`` that names a molecular activity or an enzyme, or None.

        >>> rules = load_leak_rules("med")
        >>> rules.molecular(["Reduced hepatic glyoxylate reductase activity"])
        'Reduced hepatic glyoxylate reductase activity'
        >>> rules.molecular(["Hyperactivity", "Elevated circulating creatine kinase concentration"]) is None
        True
        """
        return _first_match(tuple(self.molecular_finding_patterns), tuple(names))

    def restates(self, finding_names: Iterable[str], diagnosis_names: Iterable[str], generic: frozenset[str]) -> bool:
        """A name of the finding shares ``min_shared_words`` distinctive words with a name of the diagnosis.

        >>> load_leak_rules("med").restates(["Periodic hypokalemic paresis"], ["Hypokalemic periodic paralysis"],
        ...                                 frozenset())
        True
        >>> load_leak_rules("med").restates(["Hypokalemia"], ["Gitelman syndrome"], frozenset({"syndrome"}))
        False
        """
        theirs = [_tokens(n, generic) for n in diagnosis_names]
        for name in finding_names:
            mine = _tokens(name, generic)
            if len(mine) >= self.min_shared_words and any(len(mine & t) >= self.min_shared_words for t in theirs):
                return True
        return False


@lru_cache(maxsize=1 << 16)
def _first_match(patterns: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` a pattern matches (a term's names are checked once per process)."""
    pattern = _compiled(patterns)
    return next((n for n in names if pattern.search(n)), None)


@lru_cache(maxsize=1 << 16)
def _tokens(name: str, generic: frozenset[str]) -> frozenset[str]:
    return content_tokens(name, generic)


@cache
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns) or r"(?!)", re.IGNORECASE)


@cache
def load_leak_rules(name: str) -> LeakRules:
    """The leak rules of schema ``name``; a schema without its own file uses ``med``'s."""
    path = schemas_dir() / "leaks" / f"{name}.yaml"
    if not path.exists():
        if name != "med":
            return load_leak_rules("med")
        raise KgsynthError(f"{path} does not exist", hint="reinstall kgsynth: the leak rules ship with it")
    try:
        return LeakRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise KgsynthError(f"{path}{line}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        raise KgsynthError(f"{path}: not valid leak rules:\n{exc}", hint="see graph_schemas/leaks/med.yaml") from None
