"""The fake official account's APIs: customer-service and template messages, tags, mass sends.

Each handler validates a request the way WeChat does and answers with WeChat's error codes; every
accepted call is recorded (:meth:`~wechat.fake_state.FakeState.record`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wechat.fake_state import Answer, FakeState, Payload, content_of, ok

OPENID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
CUSTOM_TEXT_LIMIT = 20 * 1024
CUSTOM_TYPES = frozenset({"text", "image", "voice", "news", "mpnews", "miniprogrampage"})
MASS_TYPES = frozenset({"text", "mpnews", "voice", "image", "mpvideo", "wxcard"})
MAX_TAGS = 100
TAG_NAME_LIMIT = 30
TAGS_PER_USER = 20
TAG_BATCH = 50


def check_openid(openid: Any) -> str:
    if not isinstance(openid, str) or not OPENID_RE.match(openid):
        raise Answer(40003, "invalid openid")
    return openid


class OfficialAccountFake(FakeState):
    """The official-account endpoints of the fake platform."""

    # -- messages ---------------------------------------------------------------------------

    def _custom_send(self, query: Mapping[str, str], body: Payload) -> Payload:
        openid = check_openid(body.get("touser"))
        msgtype = body.get("msgtype")
        if msgtype not in CUSTOM_TYPES:
            raise Answer(40008, "invalid message type")
        if msgtype == "text" and len(content_of(body, "text").encode("utf-8")) > CUSTOM_TEXT_LIMIT:
            raise Answer(45002, "content size out of limit")
        if openid in self.config.unfollowed:
            raise Answer(43004, "require subscribe")
        if openid in self.config.outside_window:
            raise Answer(45015, "response out of time limit or subscription is canceled")
        if self.config.custom_limit is not None and self.custom_counts[openid] >= self.config.custom_limit:
            raise Answer(45047, "out of response count limit")
        self.custom_counts[openid] += 1
        self.record("custom_send", body)
        return ok()

    def _template_send(self, query: Mapping[str, str], body: Payload) -> Payload:
        openid = check_openid(body.get("touser"))
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise Answer(40037, "invalid template_id")
        if not isinstance(body.get("data"), dict):
            raise Answer(47001, "data format error")
        if openid in self.config.unfollowed:
            raise Answer(43004, "require subscribe")
        msgid = next(self._ids)
        self.record("template_send", body, msgid=msgid)
        return ok(msgid=msgid)

    # -- tags -------------------------------------------------------------------------------

    def _tags_create(self, query: Mapping[str, str], body: Payload) -> Payload:
        tag = body.get("tag")
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip() or name in self.tags.values():
            raise Answer(45157, "invalid tag name")
        if len(name) > TAG_NAME_LIMIT:
            raise Answer(45158, "tag name too long")
        if len(self.tags) >= MAX_TAGS:
            raise Answer(45056, "too many tags now, no need to add new")
        tag_id = next(self._tag_ids)
        self.tags[tag_id] = name
        self.tag_members[tag_id] = set()
        self.record("tags_create", body, tag_id=tag_id)
        return {"tag": {"id": tag_id, "name": name}}

    def _tags_get(self, query: Mapping[str, str], body: Payload) -> Payload:
        return {"tags": [{"id": i, "name": n, "count": len(self.tag_members[i])} for i, n in sorted(self.tags.items())]}

    def _tagging_args(self, body: Payload) -> tuple[int, list[str]]:
        tag_id = body.get("tagid")
        if not isinstance(tag_id, int) or isinstance(tag_id, bool) or tag_id not in self.tags:
            raise Answer(45159, "invalid tag id")
        openids = body.get("openid_list")
        if not isinstance(openids, list) or not openids or len(openids) > TAG_BATCH:
            raise Answer(40032, "invalid openid list size, please check the openid list size")
        return tag_id, [check_openid(o) for o in openids]

    def _batchtagging(self, query: Mapping[str, str], body: Payload) -> Payload:
        tag_id, openids = self._tagging_args(body)
        for openid in openids:
            count = sum(1 for members in self.tag_members.values() if openid in members)
            if openid not in self.tag_members[tag_id] and count >= TAGS_PER_USER:
                raise Answer(45059, "has too many tags")
        self.tag_members[tag_id].update(openids)
        self.record("tags_batchtagging", body)
        return ok()

    def _batchuntagging(self, query: Mapping[str, str], body: Payload) -> Payload:
        tag_id, openids = self._tagging_args(body)
        self.tag_members[tag_id].difference_update(openids)
        self.record("tags_batchuntagging", body)
        return ok()

    # -- mass send --------------------------------------------------------------------------

    def _mass_sendall(self, query: Mapping[str, str], body: Payload) -> Payload:
        flt = body.get("filter")
        if not isinstance(flt, dict):
            raise Answer(47001, "data format error")
        if flt.get("is_to_all") is True:
            recipients: set[str] = set().union(*self.tag_members.values())
        else:
            tag_id = flt.get("tag_id")  # wechatpy 1.8.18 sends the retired group_id: refused like WeChat does
            if not isinstance(tag_id, int) or tag_id not in self.tags:
                raise Answer(40050, "invalid tag id")
            recipients = set(self.tag_members[tag_id])
        msgtype = body.get("msgtype")
        if msgtype not in MASS_TYPES:
            raise Answer(40008, "invalid message type")
        if msgtype == "text":
            content_of(body, "text")
        clientmsgid = body.get("clientmsgid")
        if clientmsgid is not None:
            if not isinstance(clientmsgid, str) or not clientmsgid or len(clientmsgid) > 64:
                raise Answer(47001, "data format error")
            if clientmsgid in self.clientmsgids:
                raise Answer(45065, "clientmsgid exist", msg_id=self.clientmsgids[clientmsgid][0])
        msg_id, msg_data_id = next(self._ids), next(self._ids)
        if clientmsgid is not None:
            self.clientmsgids[clientmsgid] = (msg_id, msg_data_id)
        self.record("mass_sendall", body, msg_id=msg_id, recipients=sorted(recipients))
        return {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_data_id}
