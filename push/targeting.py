"""Targeting: a notice becomes targets, one per channel × target (a delivery row per slot is made from each).

Targets are a village WeChat group through its robot (``robot``, ``QH02/新寨村村民群``), a village's
official-account tag (``oa_mass``, ``QH02``), a follower for template messages (``template``, the openid) and a
village's loudspeaker outbox (``loudspeaker``, ``QH02``). The privacy rule is applied here: a 社会救助公示
listing people goes only to the named villages' own WeChat groups, whatever its channel list says, and the plan
says which channels were dropped and why. A target whose channel is not configured (no robot key, no tag, no
outbox) is listed in ``unconfigured`` so approval can refuse it, instead of a failure at send time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from push.models import Notice
from push.settings import PushSettings
from push.speech.privacy import has_masked_name, is_person_heading
from village_lists.models import GroupRobot, Village
from village_lists.repository import followers_of, list_villages, robot_webhook_key

CHANNEL_NAMES = {"robot": "微信群", "oa_mass": "公众号群发", "template": "公众号模板消息", "loudspeaker": "广播"}
REMINDER_TEXT = "公示期满，请将结果报镇社会事务办"


@dataclass(frozen=True)
class Target:
    channel: str
    target: str
    label: str


@dataclass
class Plan:
    targets: list[Target] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    unconfigured: list[str] = field(default_factory=list)


def _has_key(robot: GroupRobot) -> bool:
    return bool(robot.webhook_key)


def robot_for(session: Session, target: str) -> GroupRobot | None:
    """The robot of a ``robot`` target ``CODE/群名``."""
    code, _, group = target.partition("/")
    return session.scalar(select(GroupRobot).where(GroupRobot.village_code == code, GroupRobot.group_name == group))


def webhook_key_for(session: Session, target: str, secret_key: str) -> str | None:
    """The plaintext webhook key of a ``robot`` target, decrypted with ``CUNWU_SECRET_KEY``; never log it."""
    robot = robot_for(session, target)
    return robot_webhook_key(robot, secret_key) if robot is not None and robot.webhook_key else None


def lists_people(notice: Notice) -> bool:
    """A 社会救助公示 that names people (masked names, or a table with a 姓名/户主 column)."""
    if notice.kind != "社会救助公示":
        return False
    headers = [line for line in notice.body.splitlines() if line.strip().startswith("|")][:1]
    cells = headers[0].strip().strip("|").split("|") if headers else []
    return has_masked_name(notice.body) or any(is_person_heading(c.strip()) for c in cells)


def _villages(session: Session, notice: Notice) -> list[Village]:
    villages = list_villages(session)
    if notice.villages == "all":
        return villages
    wanted = list(notice.villages)
    by_code = {v.code: v for v in villages}
    return [by_code[c] for c in wanted if c in by_code]


def plan_targets(session: Session, notice: Notice, settings: PushSettings) -> Plan:
    """The targets of ``notice`` in channel priority order, with dropped channels and unconfigured targets."""
    plan = Plan()
    channels = list(notice.channels)
    villages = _villages(session, notice)
    if lists_people(notice):
        for channel in channels:
            if channel != "微信群":
                plan.dropped.append(f"{channel}：含个人名单的社会救助公示只发到本村村民微信群，不上公众号、不进广播")
        channels = ["微信群"] if "微信群" in channels else []
        if notice.villages == "all":
            plan.unconfigured.append("含个人名单的社会救助公示必须指定本村（targets.villages 不能是 all）")
            return plan
        if not channels:
            plan.dropped.append("微信群：通知未列出微信群渠道，含个人名单的公示无处可发")
    for channel in channels:
        for village in villages:
            if channel == "微信群":
                _robots(session, notice, village, plan)
            elif channel == "公众号":
                _official_account(session, village, settings, plan)
            elif channel == "广播":
                if village.broadcast_outbox or settings.loudspeaker_upload_url:
                    plan.targets.append(Target("loudspeaker", village.code, f"{village.name} 大喇叭"))
                else:
                    plan.unconfigured.append(
                        f"{village.name}：未设置大喇叭输出文件夹（cunwu village channels --outbox）"
                    )
    return plan


def _robots(session: Session, notice: Notice, village: Village, plan: Plan) -> None:
    groups = [g for g in notice.groups if g in village.wechat_groups] or (
        [] if notice.groups else list(village.wechat_groups)
    )
    robots = {
        r.group_name: r for r in session.scalars(select(GroupRobot).where(GroupRobot.village_code == village.code))
    }
    for group in groups:
        if group in robots and _has_key(robots[group]):
            plan.targets.append(Target("robot", f"{village.code}/{group}", f"{village.name} {group}"))
        else:
            plan.unconfigured.append(f"{village.name} {group}：未设置群机器人 key（cunwu village channels --robot）")


def _official_account(session: Session, village: Village, settings: PushSettings, plan: Plan) -> None:
    if settings.uses_templates:
        for follower in followers_of(session, village.code):
            plan.targets.append(Target("template", follower.openid, f"{village.name} 关注者"))
        return
    if village.oa_tag:
        plan.targets.append(Target("oa_mass", village.code, f"{village.name} 公众号标签“{village.oa_tag}”"))
    else:
        plan.unconfigured.append(f"{village.name}：未设置公众号标签（cunwu village channels --oa-tag）")


def reminder_targets(session: Session, notice: Notice) -> list[Target]:
    """Where the end-of-publicity reminder goes: each target village's representatives' group (or first robot)."""
    out = []
    for village in _villages(session, notice):
        robots = {
            r.group_name: r for r in session.scalars(select(GroupRobot).where(GroupRobot.village_code == village.code))
        }
        names = [g for g in village.wechat_groups if g in robots and _has_key(robots[g])]
        if not names:
            continue
        group = next((g for g in names if "代表" in g), names[0])
        out.append(Target("robot", f"{village.code}/{group}", f"{village.name} {group}"))
    return out
