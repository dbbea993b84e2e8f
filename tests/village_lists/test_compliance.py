"""The compliance report: village defects plus late and abolished-but-linked interpretations."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from content.models import Interpretation
from tests.conftest import Cunwu
from village_lists.compliance import ABOLISHED_LINKED, LATE_INTERPRETATION, compliance_report, township_findings

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def sample(cunwu: Cunwu, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    cunwu.ok("load-sample")
    return session_factory


def test_only_jd010_is_late(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        findings = township_findings(session, TODAY)
    late = [f for f in findings if f.kind == LATE_INTERPRETATION]
    assert [f.subject for f in late] == ["JD-010"]
    assert "2026-05-12" in late[0].detail and "2026-05-26" in late[0].detail and "第10个工作日" in late[0].detail


def test_abolished_interpretation_still_linked(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        findings = township_findings(session, TODAY)
        abolished = {i.id for i in session.query(Interpretation).filter(Interpretation.status == "已废止")}
    linked = [f for f in findings if f.kind == ABOLISHED_LINKED]
    assert abolished == {"JD-031"}
    assert [f.subject for f in linked] == ["JD-031"] and linked[0].codes


def test_three_working_days_boundary(sample: sessionmaker[Session]) -> None:
    with sample.begin() as session:
        jd = session.get(Interpretation, "JD-010")
        assert jd is not None
        jd.published = dt.date(2026, 5, 11)  # Monday
        jd.interpreted = dt.date(2026, 5, 14)  # Thursday: the 3rd working day
    with sample() as session:
        assert not [f for f in township_findings(session, TODAY) if f.kind == LATE_INTERPRETATION]
    with sample.begin() as session:
        jd = session.get(Interpretation, "JD-010")
        assert jd is not None
        jd.interpreted = dt.date(2026, 5, 15)
    with sample() as session:
        assert [f.subject for f in township_findings(session, TODAY) if f.kind == LATE_INTERPRETATION] == ["JD-010"]


def test_report_holds_every_village_defect(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        report = compliance_report(session, TODAY)
    assert len(report.defects) == 20 and not report.ok
    assert report.as_dict()["today"] == "2026-11-21"


def test_report_cli(cunwu: Cunwu) -> None:
    cunwu.ok("load-sample")
    data = json.loads(cunwu.ok("report", "compliance", "--today", "2026-11-21", "--json").output)
    assert len(data["defects"]) == 20
    assert {(f["kind"], f["subject"]) for f in data["township"]} == {
        (LATE_INTERPRETATION, "JD-010"),
        (ABOLISHED_LINKED, "JD-031"),
    }
    text = cunwu.ok("report", "compliance", "--today", "2026-11-21").output
    assert "JD-010" in text and "QH05" in text and "解读发布逾期" in text
    for other in ("JD-001", "JD-009", "JD-011"):
        assert other not in text
