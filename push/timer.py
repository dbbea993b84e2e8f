"""APScheduler 3.11 as the timer only: built from the notices table at start and whenever it changes.

The in-process scheduler (memory job store) holds one job per active notice (a date trigger, or a cron trigger
bounded by ``valid_from``/``valid_until``) plus a periodic sweep. Every job only calls
``push.scheduler.sweep``, which enqueues under unique keys: a job that fires twice, or two scheduler processes,
send nothing twice, and a restart loses nothing because the sweep at start catches up (补发 within the grace,
missed beyond it). The store is rebuilt when the table's fingerprint (count, last update) changes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.clock import CHINA_TZ
from push.models import Notice
from push.scheduler import ACTIVE, SweepReport, cron_trigger, sweep
from push.settings import PushSettings

log = logging.getLogger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Timer:
    def __init__(
        self,
        engine: Engine,
        settings: PushSettings,
        *,
        sweep_seconds: float = 30.0,
        check_seconds: float = 10.0,
        extra_jobs: dict[str, tuple[float, Callable[[], Awaitable[object]]]] | None = None,
        now: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.sweep_seconds = sweep_seconds
        self.check_seconds = check_seconds
        self.extra_jobs = extra_jobs or {}
        self.now = now
        self.scheduler: AsyncIOScheduler | None = None
        self._fingerprint: tuple[int, object] | None = None
        self.last_report = SweepReport()

    async def start(self) -> SweepReport:
        """Catch up (one sweep), build the jobs from the table, start the timer; returns the catch-up report."""
        grace = int(self.settings.misfire_grace_seconds)
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)  # a line per sweep is noise
        self.scheduler = AsyncIOScheduler(
            timezone=CHINA_TZ,
            jobstores={"default": MemoryJobStore()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        )
        report = await self.sweep()
        await self.rebuild()
        self.scheduler.add_job(self.sweep, IntervalTrigger(seconds=self.sweep_seconds), id="sweep")
        self.scheduler.add_job(self.rebuild_if_changed, IntervalTrigger(seconds=self.check_seconds), id="rebuild")
        for name, (seconds, job) in self.extra_jobs.items():
            self.scheduler.add_job(job, IntervalTrigger(seconds=seconds), id=name)
        self.scheduler.start()
        return report

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def sweep(self, notice_id: str | None = None) -> SweepReport:
        def run() -> SweepReport:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return sweep(session, self.settings, self.now(), notice_id)

        report = await asyncio.to_thread(run)
        if report.enqueued or report.late or report.missed:
            log.info("enqueued %s, late %s, missed %s", report.enqueued, report.late, report.missed)
        self.last_report = report
        return report

    def _read(self) -> tuple[tuple[int, object], list[Notice]]:
        with Session(self.engine, expire_on_commit=False) as session:
            count, last = session.execute(select(func.count(Notice.id), func.max(Notice.updated_at))).one()
            notices = list(session.scalars(select(Notice).where(Notice.status.in_(ACTIVE))))
        return (int(count), last), notices

    async def rebuild_if_changed(self) -> None:
        fingerprint, _ = await asyncio.to_thread(self._read)
        if fingerprint != self._fingerprint:
            await self.rebuild()

    async def rebuild(self) -> int:
        """Replace the notice jobs with those of the table; returns how many there are."""
        assert self.scheduler is not None
        self._fingerprint, notices = await asyncio.to_thread(self._read)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("notice:"):
                job.remove()
        now = self.now()
        for notice in notices:
            trigger = self._trigger(notice, now)
            if trigger is not None:
                self.scheduler.add_job(self.sweep, trigger, args=[notice.id], id=f"notice:{notice.id}")
        return len([j for j in self.scheduler.get_jobs() if j.id.startswith("notice:")])

    @staticmethod
    def _trigger(notice: Notice, now: dt.datetime) -> DateTrigger | CronTrigger | None:
        if notice.cron:
            start = dt.datetime.combine(notice.valid_from, dt.time(0), tzinfo=CHINA_TZ) if notice.valid_from else None
            end = (
                dt.datetime.combine(notice.valid_until, dt.time(23, 59, 59), tzinfo=CHINA_TZ)
                if notice.valid_until
                else None
            )
            if end is not None and end < now:
                return None
            return cron_trigger(notice.cron, start, end)
        if notice.send_at is not None and notice.send_at > now:
            return DateTrigger(run_date=notice.send_at)
        return None
