"""Queries and small writes over villages, their channel settings, followers and list rows.

Functions take a session; they never open or commit one.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from content.models import Township
from core.errors import AppError, NotFound
from core.secretbox import SecretBox
from village_lists.models import Follower, GroupRobot, ListRow, Village

_SPACES = re.compile(r"\s+")
_VILLAGE_SUFFIXES = ("村民委员会", "村委会", "村委", "村")
_TOWNSHIP_SUFFIXES = ("镇", "乡", "街道")


# ------------------------------------------------------------------------------------------ villages


def get_village(session: Session, code: str) -> Village:
    """The village with this 村编码 (case-insensitive); NotFound otherwise."""
    village = session.get(Village, code.strip().upper())
    if village is None:
        raise NotFound(f"没有编码为 {code} 的村")
    return village


def list_villages(session: Session, *, township: str | None = None) -> list[Village]:
    stmt = select(Village)
    if township:
        stmt = stmt.join(Township).where(Township.name == township)
    return list(session.scalars(stmt.order_by(Village.code)))


def _stem(name: str) -> str:
    for suffix in _VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _stem_in(stem: str, text: str) -> bool:
    """Whether ``stem`` occurs in ``text`` other than as the start of a township name (清河 in 清河乡)."""
    start = text.find(stem)
    while start >= 0:
        after = text[start + len(stem) : start + len(stem) + 2]
        if not after.startswith(_TOWNSHIP_SUFFIXES):
            return True
        start = text.find(stem, start + 1)
    return False


def find_villages(session: Session, text: str) -> list[Village]:
    """Villages a person probably means by ``text``, best first; empty when none fits.

    Matches the 村编码 (``qh03``), the full name (``芒洪村``), the name without 村/村委会 (``芒洪``)
    and a name inside a longer phrase (``我是芒洪村的``). A township's name (``清河镇``) is removed
    first, so that 清河镇 never matches 清河村 though both start with 清河.
    """
    query = _SPACES.sub("", text or "")
    if not query:
        return []
    villages = list_villages(session)
    by_code = {v.code: v for v in villages}
    if query.upper() in by_code:
        return [by_code[query.upper()]]
    exact = [v for v in villages if v.name == query]
    if exact:
        return exact
    # Remove township (and county) names so 清河镇 is not read as 清河村.
    places = {ts.name for ts in session.scalars(select(Township))} | {
        ts.county for ts in session.scalars(select(Township)) if ts.county
    }
    stripped = query
    for place in sorted(places, key=len, reverse=True):
        stripped = stripped.replace(place, " ")
    stripped = stripped.strip()
    if not stripped:
        return []
    scored: list[tuple[int, bool, str, Village]] = []
    for v in villages:
        stem = _stem(v.name)
        if v.name in stripped:
            score = 2
        elif (len(stem) >= 2 and _stem_in(stem, stripped)) or (len(stripped) >= 2 and stem.startswith(stripped)):
            score = 1
        else:
            continue
        scored.append((score, stem != stripped, v.code, v))
    if not scored:
        return []
    best = max(s[0] for s in scored)
    # the village whose name is exactly what was typed first, then by code
    return [s[3] for s in sorted((s for s in scored if s[0] == best), key=lambda s: (s[1], s[2]))]


def list_rows(session: Session, village_code: str) -> list[ListRow]:
    """A village's list rows in 序号 order."""
    return list(session.scalars(select(ListRow).where(ListRow.village_code == village_code).order_by(ListRow.seq)))


# ---------------------------------------------------------------------------------- channel settings


MAX_WEBHOOK_KEY = 64


def _robot_context(village_code: str, group_name: str) -> str:
    return f"{village_code}/{group_name}"


def set_group_robot(
    session: Session, village_code: str, group_name: str, webhook_key: str, *, secret_key: str
) -> GroupRobot:
    """Set (or replace) the WeCom robot webhook key of one of the village's WeChat groups.

    The key is stored encrypted with ``secret_key`` (the ``CUNWU_SECRET_KEY`` setting); read it
    back with :func:`robot_webhook_key`.
    """
    box = SecretBox(secret_key)
    village = get_village(session, village_code)
    if group_name not in village.wechat_groups:
        raise NotFound(f"{village.name}没有名为“{group_name}”的微信群（现有：{'、'.join(village.wechat_groups)}）")
    if len(webhook_key) > MAX_WEBHOOK_KEY or any(c.isspace() for c in webhook_key):
        raise AppError(
            f"机器人 key 无效：应为不含空白的 {MAX_WEBHOOK_KEY} 个字符以内（企业微信给出的 key 是 36 个字符）"
        )
    stored = box.encrypt(webhook_key, _robot_context(village.code, group_name))
    robot = session.scalar(
        select(GroupRobot).where(GroupRobot.village_code == village.code, GroupRobot.group_name == group_name)
    )
    if robot is None:
        robot = GroupRobot(village_code=village.code, group_name=group_name, webhook_key=stored)
        session.add(robot)
    else:
        robot.webhook_key = stored
    session.flush()
    return robot


def robot_webhook_key(robot: GroupRobot, secret_key: str) -> str:
    """The plaintext webhook key of ``robot``: the one place that decrypts it. Never log the result."""
    return SecretBox(secret_key).decrypt(robot.webhook_key, _robot_context(robot.village_code, robot.group_name))


def group_robots(session: Session, village_code: str) -> list[GroupRobot]:
    return list(
        session.scalars(
            select(GroupRobot).where(GroupRobot.village_code == village_code).order_by(GroupRobot.group_name)
        )
    )


def set_channels(
    session: Session, village_code: str, *, oa_tag: str | None = None, broadcast_outbox: str | None = None
) -> Village:
    """Set the village's official-account tag and/or loudspeaker outbox folder (None leaves it)."""
    village = get_village(session, village_code)
    if oa_tag is not None:
        if len(oa_tag) > 30:
            raise AppError("公众号标签名最长 30 个字符")
        village.oa_tag = oa_tag
    if broadcast_outbox is not None:
        village.broadcast_outbox = broadcast_outbox
    session.flush()
    return village


# --------------------------------------------------------------------------------------------- followers


def get_follower(session: Session, openid: str) -> Follower | None:
    return session.get(Follower, openid)


def bind_follower(session: Session, openid: str, village_code: str, now: dt.datetime) -> Follower:
    """Bind a follower to a village (re-binding moves them); marks them subscribed."""
    village = get_village(session, village_code)
    follower = session.get(Follower, openid)
    if follower is None:
        follower = Follower(openid=openid)
        session.add(follower)
    follower.village_code = village.code
    follower.active = True
    follower.bound_at = now
    follower.updated_at = now
    session.flush()
    return follower


def unbind_follower(session: Session, openid: str, now: dt.datetime | None = None) -> bool:
    """Forget the follower's village; True when they were bound."""
    follower = session.get(Follower, openid)
    if follower is None or follower.village_code is None:
        return False
    follower.village_code = None
    follower.bound_at = None
    if now is not None:
        follower.updated_at = now
    session.flush()
    return True


def mark_unsubscribed(session: Session, openid: str, now: dt.datetime | None = None) -> bool:
    """Record that the follower unfollowed the account (their binding is kept for a re-follow)."""
    follower = session.get(Follower, openid)
    if follower is None:
        return False
    follower.active = False
    if now is not None:
        follower.updated_at = now
    session.flush()
    return True


def followers_of(session: Session, village_code: str) -> list[Follower]:
    """Active followers bound to the village, in openid order."""
    return list(
        session.scalars(
            select(Follower)
            .where(Follower.village_code == village_code, Follower.active.is_(True))
            .order_by(Follower.openid)
        )
    )
