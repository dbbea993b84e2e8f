"""Plain-dict views of content objects, for ``--json`` output and the JSON API."""

from __future__ import annotations

from typing import Any

from content.models import CatalogItem, Interpretation
from content.vocab import DISCLOSURE_SECRET


def item_dict(item: CatalogItem) -> dict[str, Any]:
    return {
        "township": item.township.name,
        "code": item.code,
        "domain": item.domain,
        "group": item.group,
        "title": item.title,
        "elements": list(item.elements),
        "basis": item.basis,
        "time_limit": item.time_limit,
        "publishers": list(item.publishers),
        "channels": list(item.channels),
        "audience": item.audience,
        "method": item.method,
        "levels": list(item.levels),
        "status": item.status,
    }


def interp_dict(interp: Interpretation, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": interp.id,
        "title": interp.title,
        "document": interp.document,
        "doc_number": interp.doc_number,
        "issuer": interp.issuer,
        "disclosure": interp.disclosure,
        "status": interp.status,
        "items": list(interp.items),
        "published": interp.published.isoformat(),
        "interpreted": interp.interpreted.isoformat(),
    }
    if full and interp.disclosure != DISCLOSURE_SECRET:
        out["keywords"] = list(interp.keywords)
        out["summary"] = interp.summary
        out["qas"] = [{"q": qa.question, "a": qa.answer} for qa in interp.qas]
    return out
