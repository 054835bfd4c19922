"""What kgsynth knows about licences: ids, Hub names, links, commercial use, and how restrictive each is.

The one home of licence knowledge. Loaders state a licence as text (``SourceInfo.licence``, e.g.
``"CC BY 4.0"`` or ``"HPO licence (free to use with attribution; ...)"``); :func:`identify` maps that text
to a :class:`Licence` by the prefixes listed here. Text that matches none (a KGX graph loaded without
``--licence``, an OBO file "as the ontology states") is ``unknown``: a dataset holding such an edge is
never claimed to be under any licence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Licence:
    """One licence: ``rank`` orders licences by how much they restrict use (higher restricts more)."""

    key: str  # a slug, also the Hub's ``license_name`` when the Hub has no id for it
    name: str
    rank: int
    url: str = ""
    spdx: str | None = None  # SPDX id, when SPDX lists the licence
    hub: str | None = None  # the Hub's ``license`` id, when the Hub lists it
    non_commercial: bool = False
    matches: tuple[str, ...] = ()  # prefixes of the licence text loaders write (case-insensitive)


UNKNOWN = Licence(key="unknown", name="unknown (not stated by the source)", rank=1000, hub="unknown")

LICENCES: tuple[Licence, ...] = (
    Licence(key="cc0-1.0", name="CC0 1.0", rank=0, spdx="CC0-1.0", hub="cc0-1.0", matches=("CC0",),
            url="https://creativecommons.org/publicdomain/zero/1.0/"),
    # PrimeKG is CC BY 4.0 as a release, but states that each of its sources' licences still applies: not
    # plain CC BY 4.0 (listed before it, so that its text does not match the plain licence's prefix).
    Licence(key="primekg-terms", name="PrimeKG terms (CC BY 4.0; each source's own licence applies)", rank=45,
            matches=("CC BY 4.0 (PrimeKG",), url="https://github.com/mims-harvard/PrimeKG"),
    Licence(key="cc-by-4.0", name="CC BY 4.0", rank=10, spdx="CC-BY-4.0", hub="cc-by-4.0", matches=("CC BY 4.0",),
            url="https://creativecommons.org/licenses/by/4.0/"),
    Licence(key="hpo-licence", name="HPO licence (free to use with attribution)", rank=20,
            matches=("HPO licence", "HPO license"), url="https://hpo.jax.org/license"),
    Licence(key="nlm-terms", name="NLM terms and conditions (free, with attribution)", rank=20,
            matches=("NLM terms",), url="https://www.nlm.nih.gov/databases/download/terms_and_conditions.html"),
    Licence(key="cc-by-sa-4.0", name="CC BY-SA 4.0", rank=30, spdx="CC-BY-SA-4.0", hub="cc-by-sa-4.0",
            matches=("CC BY-SA 4.0",), url="https://creativecommons.org/licenses/by-sa/4.0/"),
    Licence(key="cc-by-nc-4.0", name="CC BY-NC 4.0", rank=40, spdx="CC-BY-NC-4.0", hub="cc-by-nc-4.0",
            non_commercial=True, matches=("CC BY-NC 4.0",), url="https://creativecommons.org/licenses/by-nc/4.0/"),
    Licence(key="cc-by-nc-sa-4.0", name="CC BY-NC-SA 4.0", rank=50, spdx="CC-BY-NC-SA-4.0", hub="cc-by-nc-sa-4.0",
            non_commercial=True, matches=("CC BY-NC-SA 4.0",),
            url="https://creativecommons.org/licenses/by-nc-sa/4.0/"),
)  # fmt: skip


def identify(text: str) -> Licence:
    """The licence a source's licence text names, or :data:`UNKNOWN`.

    >>> identify("CC BY-NC-SA 4.0 (non-commercial)").hub
    'cc-by-nc-sa-4.0'
    >>> identify("unknown (check the source)").key
    'unknown'
    """
    folded = text.strip().casefold()
    for licence in LICENCES:
        if any(folded.startswith(m.casefold()) for m in licence.matches):
            return licence
    return UNKNOWN


@dataclass(frozen=True)
class DatasetLicence:
    """The licence a dataset can truthfully claim, given the licence texts of the edges it uses."""

    hub: str  # the Hub's ``license`` value: a Hub id, ``other`` or ``unknown``
    licences: tuple[Licence, ...]  # the distinct licences used, least restrictive first
    texts: tuple[str, ...]  # the licence texts as the sources state them
    non_commercial: bool
    name: str | None = None  # ``license_name`` (only with ``other``)
    link: str | None = None  # ``license_link`` (only with ``other``)

    @property
    def most_restrictive(self) -> tuple[Licence, ...]:
        """Every licence of the highest rank used (ties are all listed)."""
        if not self.licences:
            return ()
        top = max(lic.rank for lic in self.licences)
        return tuple(lic for lic in self.licences if lic.rank == top)

    @property
    def unknown(self) -> tuple[str, ...]:
        """The licence texts that name no licence kgsynth knows."""
        return tuple(t for t in self.texts if identify(t) is UNKNOWN)


COMBINED_NAME = "kgsynth-source-licences"
COMBINED_LINK = "LICENSE.md"


def dataset_licence(texts: Iterable[str], *, non_commercial: bool = False) -> DatasetLicence:
    """The licence of data built from edges under ``texts``: the one licence when all agree, ``other``
    (named, linked to ``LICENSE.md``) when they differ, ``unknown`` when any is unknown.

    ``non_commercial`` adds what the data itself says (``Item.non_commercial``) to what the licences say.

    >>> dataset_licence(["CC0 1.0", "CC0 1.0"]).hub
    'cc0-1.0'
    >>> lic = dataset_licence(["CC0 1.0", "CC BY-NC-SA 4.0 (non-commercial)"])
    >>> lic.hub, lic.non_commercial, [x.name for x in lic.most_restrictive]
    ('other', True, ['CC BY-NC-SA 4.0'])
    """
    distinct_texts = tuple(sorted(set(texts)))
    licences = tuple(sorted({identify(t) for t in distinct_texts}, key=lambda lic: (lic.rank, lic.key)))
    nc = non_commercial or any(lic.non_commercial for lic in licences)
    if not licences or UNKNOWN in licences:
        return DatasetLicence(hub="unknown", licences=licences, texts=distinct_texts, non_commercial=nc)
    if len(licences) == 1 and licences[0].hub:
        return DatasetLicence(hub=licences[0].hub, licences=licences, texts=distinct_texts, non_commercial=nc)
    if len(licences) == 1:
        only = licences[0]
        return DatasetLicence(hub="other", licences=licences, texts=distinct_texts, non_commercial=nc,
                              name=only.key, link=only.url)  # fmt: skip
    return DatasetLicence(hub="other", licences=licences, texts=distinct_texts, non_commercial=nc,
                          name=COMBINED_NAME, link=COMBINED_LINK)  # fmt: skip
