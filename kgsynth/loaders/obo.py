"""OBO 1.2/1.4 flat files: a small, fast reader, and a loader for any OBO ontology a user brings."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.loaders.base import Loader, open_text, reading
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

    Accepts a path (plain, gzip, bz2 or xz) or an open text file. A malformed line, a last line cut off
    before its end (an interrupted download or copy) and a file without any ``[Term]`` stanza raise
    :class:`SourceFormatError` naming the file and line, as the iterator reaches them.

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
    lineno = 0
    try:
        with reading(path, lambda: lineno):
            for lineno, raw in lines:
                if not raw.endswith(_EOL):
                    raise _cut_short(raw, name, lineno)
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
    except BaseException:
        fh.close()
        raise

    def terms() -> Iterator[OboTerm]:
        nonlocal lineno
        count = 0
        try:
            with reading(path, lambda: lineno):
                stanza = pending[1] if pending else None
                term: OboTerm | None = OboTerm(id="", line=pending[0]) if pending and stanza == "[Term]" else None
                for lineno, raw in lines:
                    if not raw.endswith(_EOL):
                        raise _cut_short(raw, name, lineno)
                    line = raw.strip()
                    if not line or line.startswith("!"):
                        continue
                    if line.startswith("["):
                        if term is not None:
                            count += 1
                            yield _check(term, name)
                        term = OboTerm(id="", line=lineno) if line == "[Term]" else None
                        continue
                    if term is None:
                        continue
                    _add_tag(term, line, name, lineno)
                if term is not None:
                    count += 1
                    yield _check(term, name)
                if not count:
                    raise SourceFormatError(name, None, "at least one [Term] stanza, but the file has none")
        finally:
            fh.close()

    return header, terms()


_EOL = ("\n", "\r")


def _cut_short(raw: str, name: str, lineno: int) -> SourceFormatError:
    # Only the last line of a file can lack its line end: one that does was cut short mid-line.
    return SourceFormatError(
        name,
        lineno,
        "a complete last line, but the file ends in the middle of it: it was cut short",
        found=raw,
        hint="download the file again (if the file is complete, end it with a newline)",
    )


def _add_tag(term: OboTerm, line: str, name: str, lineno: int) -> None:
    """Record one ``tag: value`` line of a ``[Term]`` stanza (tags kgsynth does not use are skipped)."""
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
        header, terms = read_obo(path)
        if version := header.get("data-version") or header.get("date", ""):
            builder.set_source_version(self.name, version)
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
