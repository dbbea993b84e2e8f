"""The compliance report: every village's list defects plus township-level findings.

Township-level findings:

- 解读发布逾期       an interpretation published after the 3rd working day following its policy
                     document (``add_workdays(published, 3) < interpreted``);
- 已废止文件仍被关联  an abolished interpretation (status 已废止) still linked to active catalog items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from content.repository import active_codes, list_interpretations
from content.vocab import STATUS_ABOLISHED
from village_lists.checker import Defect, check_all
from village_lists.workdays import add_workdays, workdays_between

LATE_INTERPRETATION = "解读发布逾期"
ABOLISHED_LINKED = "已废止文件仍被关联"
INTERPRETATION_WORKDAYS = 3


@dataclass(frozen=True)
class TownshipFinding:
    kind: str
    subject: str  # the interpretation id, e.g. JD-010
    codes: list[str]
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "subject": self.subject, "codes": list(self.codes), "detail": self.detail}


@dataclass
class ComplianceReport:
    today: dt.date
    defects: list[Defect] = field(default_factory=list)
    township: list[TownshipFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.defects and not self.township

    def as_dict(self) -> dict[str, object]:
        return {
            "today": self.today.isoformat(),
            "defects": [d.as_dict() for d in self.defects],
            "township": [f.as_dict() for f in self.township],
        }


def township_findings(session: Session, today: dt.date) -> list[TownshipFinding]:
    """Late and abolished-but-linked interpretations, as of ``today``."""
    findings: list[TownshipFinding] = []
    active = active_codes(session)
    for interp in list_interpretations(session):
        if interp.published > today:
            continue
        deadline = add_workdays(interp.published, INTERPRETATION_WORKDAYS)
        if interp.interpreted > deadline:
            n = workdays_between(interp.published, interp.interpreted)
            findings.append(
                TownshipFinding(
                    LATE_INTERPRETATION,
                    interp.id,
                    list(interp.items),
                    f"{interp.id} {interp.title}：政策文件{interp.published.isoformat()}公开，"
                    f"解读{interp.interpreted.isoformat()}才发布（第{n}个工作日），"
                    f"超过{INTERPRETATION_WORKDAYS}个工作日时限（应不晚于{deadline.isoformat()}）。"
                    "请核查原因，今后解读与文件同步起草、3个工作日内发布。",
                )
            )
        if interp.status == STATUS_ABOLISHED:
            linked = [c for c in interp.items if c in active]
            if linked:
                findings.append(
                    TownshipFinding(
                        ABOLISHED_LINKED,
                        interp.id,
                        linked,
                        f"{interp.id} {interp.title}：所解读的文件已废止，仍关联现行目录事项 {'、'.join(linked)}。"
                        "请取消关联或改为关联现行有效的解读，答复群众时须注明已废止。",
                    )
                )
    return findings


def compliance_report(session: Session, today: dt.date, *, township: str | None = None) -> ComplianceReport:
    """Every village's defects and the township-level findings, as of ``today``."""
    return ComplianceReport(
        today=today,
        defects=check_all(session, today, township=township),
        township=township_findings(session, today),
    )
