"""Official-account tags kept in step with bindings, without touching the bot.

The bot records bindings in ``followers`` (village_lists); this job compares each follower's bound village
tag with the tag push last put them in (``push_tag_members``) and fixes the difference on the platform:
untag those who unbound, moved or unfollowed, tag the newly bound — at most 50 openids a call (the
platform's limit, 40032 above). The scheduler runs it every few minutes; ``cunwu notice sync-tags`` on demand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from push.models import TagMember
from village_lists.models import Follower, Village
from wechat.client import WeChatClient


@dataclass(frozen=True)
class TagPlan:
    add: dict[str, list[str]]  # tag name → openids
    remove: dict[str, list[str]]

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove


def plan_tags(session: Session) -> TagPlan:
    desired = dict(
        session.execute(
            select(Follower.openid, Village.oa_tag)
            .join(Village, Follower.village_code == Village.code)
            .where(Follower.active.is_(True), Village.oa_tag != "")
        ).all()
    )
    recorded = dict(session.execute(select(TagMember.openid, TagMember.tag_name)).all())
    add: dict[str, list[str]] = defaultdict(list)
    remove: dict[str, list[str]] = defaultdict(list)
    for openid, tag in sorted(recorded.items()):
        if desired.get(openid) != tag:
            remove[tag].append(openid)
    for openid, tag in sorted(desired.items()):
        if recorded.get(openid) != tag:
            add[tag].append(openid)
    return TagPlan(dict(add), dict(remove))


def record_done(session: Session, plan: TagPlan) -> None:
    for openids in plan.remove.values():
        session.execute(delete(TagMember).where(TagMember.openid.in_(openids)))
    for tag, openids in plan.add.items():
        session.execute(delete(TagMember).where(TagMember.openid.in_(openids)))
        session.add_all(TagMember(openid=o, tag_name=tag) for o in openids)


async def apply_tags(client: WeChatClient, plan: TagPlan) -> tuple[int, int]:
    """Untag then tag on the platform (``WeChatClient`` batches 50 openids a call); returns (added, removed)."""
    ids = {t.name: t.id for t in await client.list_tags()}
    for name in set(plan.add) - set(ids):
        ids[name] = await client.create_tag(name)
    removed = added = 0
    for name, openids in plan.remove.items():
        if name in ids:
            await client.untag_users(ids[name], openids)
        removed += len(openids)
    for name, openids in plan.add.items():
        await client.tag_users(ids[name], openids)
        added += len(openids)
    return added, removed
