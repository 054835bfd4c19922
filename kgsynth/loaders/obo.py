"""OBO 1.2/1.4 flat files: a small, fast reader, and a loader for any OBO ontology a user brings."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.loaders.base import Loader, open_text
from kgsynth.model import GraphBuilder, normalize_curie

logger = logging.getLogger(__name__)

_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|BROAD|NARROW|RELATED)?\s*([A-Za-z_:0-9]+\s+)?\[')
_TAG = re.compile(r"^([A-Za-z_\-]+):\s?(.*)$")


@dataclass
class OboTerm:
    id: str
    name: str = ""
    synonyms: list[tuple[str, str, str]] = field(default_factory=list)  # (text, scope, type)
    xrefs: list[str] = field(default_factory=list)
    is_a: list[str] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    replaced_by: list[str] = field(default_factory=list)
    obsolete: bool = False
    line: int = 0


def _strip_comment(value: str) -> str:
    # "HP:0000001 ! All" -> "HP:0000001"; trailing {qualifiers} are dropped as well.
    value = value.split(" ! ", 1)[0]
    if value.endswith("}") and " {" in value:
        value = value.rsplit(" {", 1)[0]
    return value.strip()


def read_obo(path: str | Path | IO[str]) -> tuple[dict[str, str], Iterator[OboTerm]]:
    """Read an OBO file: return its header tags and an iterator over its ``[Term]`` stanzas.

    Accepts a path (plain, gzip, bz2 or xz) or an open text file.

    >>> import io
    >>> header, terms = read_obo(io.StringIO("format-version: 1.2\\n\\n[Term]\\nid: X:1\\nname: one\\n"))
    >>> [t.name for t in terms]
    ['one']
    """
    name = str(path) if isinstance(path, str | Path) else getattr(path, "name", "<stream>")
    fh = open_text(path)
    header: dict[str, str] = {}
    lines = enumerate(fh, start=1)
    pending: tuple[int, str] | None = None
    for lineno, raw in lines:
        line = raw.strip()
        if line.startswith("["):
            pending = (lineno, line)
            break
        if not line or line.startswith("!"):
            continue
        m = _TAG.match(line)
        if not m:
            raise SourceFormatError(name, lineno, "an OBO header tag 'tag: value'", found=line)
        header.setdefault(m.group(1), m.group(2))

    def terms() -> Iterator[OboTerm]:
        try:
            stanza = pending[1] if pending else None
            term: OboTerm | None = OboTerm(id="", line=pending[0]) if pending and stanza == "[Term]" else None
            for lineno, raw in lines:
                line = raw.strip()
                if not line or line.startswith("!"):
                    continue
                if line.startswith("["):
                    if term is not None:
                        yield _check(term, name)
                    term = OboTerm(id="", line=lineno) if line == "[Term]" else None
                    continue
                if term is None:
                    continue
                m = _TAG.match(line)
                if not m:
                    raise SourceFormatError(name, lineno, "an OBO tag line 'tag: value'", found=line)
                tag, value = m.group(1), m.group(2)
                if tag == "id":
                    term.id = value.strip()
                elif tag == "name":
                    term.name = value.strip()
                elif tag == "synonym":
                    sm = _SYNONYM.match(value)
                    if not sm:
                        raise SourceFormatError(name, lineno, "a synonym '\"text\" SCOPE [TYPE] [xrefs]'", found=line)
                    text = sm.group(1).replace('\\"', '"')
                    term.synonyms.append((text, sm.group(2) or "RELATED", (sm.group(3) or "").strip()))
                elif tag == "xref":
                    term.xrefs.append(value.split(" ", 1)[0].strip())
                elif tag == "is_a":
                    term.is_a.append(_strip_comment(value))
                elif tag == "subset":
                    term.subsets.append(value.strip())
                elif tag == "replaced_by":
                    term.replaced_by.append(value.strip())
                elif tag == "is_obsolete":
                    term.obsolete = value.strip() == "true"
            if term is not None:
                yield _check(term, name)
        finally:
            fh.close()

    return header, terms()


def _check(term: OboTerm, name: str) -> OboTerm:
    if not term.id or ":" not in term.id:
        raise SourceFormatError(name, term.line, "a [Term] stanza with an 'id: PREFIX:LOCAL' line", found=term.id)
    return term


class OBOLoader(Loader):
    """Any OBO ontology: terms become nodes of one category, ``is_a`` becomes ``biolink:subclass_of``."""

    name = "obo"
    title = "Any OBO ontology (user-supplied file)"
    licence = "as the ontology states"
    in_default = False
    files: ClassVar[dict[str, str]] = {"ontology": "ontology.obo"}
    obtain = "Download the .obo release of the ontology you want to load."

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        file: str | Path | None = None,
        category: str = "biolink:NamedThing",
    ) -> None:
        if file is not None:
            p = Path(file)
            directory, self.files = p.parent, {"ontology": p.name}  # type: ignore[misc]
        elif directory is not None and Path(directory).is_file():
            p = Path(directory)
            directory, self.files = p.parent, {"ontology": p.name}  # type: ignore[misc]
        super().__init__(directory)
        self.category = category

    def load(self, builder: GraphBuilder) -> None:
        path = self.path("ontology")
        builder.register_source(self.info())
        terms_stream = builder.stream(f"{path.name} terms", self.name)
        isa_stream = builder.stream(f"{path.name} is_a", self.name)
        _, terms = read_obo(path)
        for term in terms:
            terms_stream.read += 1
            if term.obsolete:
                terms_stream.dropped["obsolete term"] += 1
                continue
            terms_stream.kept += 1
            builder.add_node(
                normalize_curie(term.id),
                self.category,
                term.name,
                source=self.name,
                synonyms=[s for s, scope, _ in term.synonyms if scope == "EXACT"],
                xrefs=[normalize_curie(x) for x in term.xrefs if ":" in x],
            )
            for parent in term.is_a:
                isa_stream.read += 1
                builder.add_edge(
                    normalize_curie(term.id),
                    "biolink:subclass_of",
                    normalize_curie(parent),
                    source=self.name,
                    stream=isa_stream.stream,
                )
