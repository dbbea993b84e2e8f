"""The fake official account's APIs: customer-service and template messages, tags, mass sends, media.

Each handler validates a request the way WeChat does and answers with WeChat's error codes; every
accepted call is recorded (:meth:`~wechat.fake_state.FakeState.record`).
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from wechat.fake_state import (
    CUSTOM_TEXT_LIMIT,
    MEDIA_LIMITS,
    TAG_BATCH,
    TAG_NAME_LIMIT,
    TAGS_PER_USER,
    Answer,
    FakeState,
    json_response,
    ok,
)


class OfficialAccountFake(FakeState):
    """The official-account endpoints of the fake platform."""

    # -- messages ---------------------------------------------------------------------------

    async def _custom_send(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        openid = self._check_openid(body.get("touser"))
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            content = text.get("content") if isinstance(text, dict) else None
            if not isinstance(content, str) or not content:
                raise Answer(44004, "empty content")
            if len(content.encode("utf-8")) > CUSTOM_TEXT_LIMIT:
                raise Answer(45002, "content size out of limit")
        elif msgtype not in {"image", "voice", "news", "mpnews", "miniprogrampage"}:
            raise Answer(40008, "invalid message type")
        if openid in self.config.unfollowed:
            raise Answer(43004, "require subscribe")
        if openid in self.config.outside_window:
            raise Answer(45015, "response out of time limit or subscription is canceled")
        if self.config.custom_limit is not None and self.custom_counts[openid] >= self.config.custom_limit:
            raise Answer(45047, "out of response count limit")
        self.custom_counts[openid] += 1
        self.record("custom_send", body)
        return ok()

    async def _template_send(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        openid = self._check_openid(body.get("touser"))
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise Answer(40037, "invalid template_id")
        if self.config.templates is not None and template_id not in self.config.templates:
            raise Answer(40037, "invalid template_id")
        if not isinstance(body.get("data"), dict):
            raise Answer(47001, "data format error")
        if openid in self.config.unfollowed:
            raise Answer(43004, "require subscribe")
        msgid = next(self._ids)
        self.record("template_send", body, msgid=msgid)
        return ok(msgid=msgid)

    # -- tags -------------------------------------------------------------------------------

    async def _tags_create(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        tag = body.get("tag")
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise Answer(45157, "invalid tag name")
        if len(name) > TAG_NAME_LIMIT:
            raise Answer(45158, "tag name too long")
        if name in self.tags.values():
            raise Answer(45157, "invalid tag name")
        if len(self.tags) >= self.config.max_tags:
            raise Answer(45056, "too many tags now, no need to add new")
        tag_id = next(self._tag_ids)
        self.tags[tag_id] = name
        self.tag_members[tag_id] = set()
        self.record("tags_create", body, tag_id=tag_id)
        return json_response({"tag": {"id": tag_id, "name": name}})

    async def _tags_get(self, request: web.Request) -> web.Response:
        self._check_token(request)
        tags = [{"id": i, "name": n, "count": len(self.tag_members[i])} for i, n in sorted(self.tags.items())]
        return json_response({"tags": tags})

    def _tagging_args(self, body: dict[str, Any]) -> tuple[int, list[str]]:
        tag_id = body.get("tagid")
        if not isinstance(tag_id, int) or isinstance(tag_id, bool) or tag_id not in self.tags:
            raise Answer(45159, "invalid tag id")
        openids = body.get("openid_list")
        if not isinstance(openids, list) or not openids or len(openids) > TAG_BATCH:
            raise Answer(40032, "invalid openid list size, please check the openid list size")
        return tag_id, [self._check_openid(o) for o in openids]

    async def _batchtagging(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        tag_id, openids = self._tagging_args(body)
        for openid in openids:
            count = sum(1 for members in self.tag_members.values() if openid in members)
            if openid not in self.tag_members[tag_id] and count >= TAGS_PER_USER:
                raise Answer(45059, "has too many tags")
        self.tag_members[tag_id].update(openids)
        self.record("tags_batchtagging", body)
        return ok()

    async def _batchuntagging(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        tag_id, openids = self._tagging_args(body)
        self.tag_members[tag_id].difference_update(openids)
        self.record("tags_batchuntagging", body)
        return ok()

    # -- mass send --------------------------------------------------------------------------

    async def _mass_sendall(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        flt = body.get("filter")
        if not isinstance(flt, dict):
            raise Answer(47001, "data format error")
        if flt.get("is_to_all") is True:
            recipients: set[str] = set().union(*self.tag_members.values()) if self.tag_members else set()
        else:
            tag_id = flt.get("tag_id")  # wechatpy 1.8.18 sends the retired group_id: refused like WeChat does
            if not isinstance(tag_id, int) or tag_id not in self.tags:
                raise Answer(40050, "invalid tag id")
            recipients = set(self.tag_members[tag_id])
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            content = text.get("content") if isinstance(text, dict) else None
            if not isinstance(content, str) or not content:
                raise Answer(44004, "empty content")
        elif msgtype not in {"mpnews", "voice", "image", "mpvideo", "wxcard"}:
            raise Answer(40008, "invalid message type")
        clientmsgid = body.get("clientmsgid")
        if clientmsgid is not None:
            if not isinstance(clientmsgid, str) or not clientmsgid or len(clientmsgid) > 64:
                raise Answer(47001, "data format error")
            if clientmsgid in self.clientmsgids:
                msg_id, msg_data_id = self.clientmsgids[clientmsgid]
                raise Answer(45065, "clientmsgid exist", msg_id=msg_id)
        msg_id, msg_data_id = next(self._ids), next(self._ids)
        if clientmsgid is not None:
            self.clientmsgids[clientmsgid] = (msg_id, msg_data_id)
        self.record("mass_sendall", body, msg_id=msg_id, recipients=sorted(recipients))
        return json_response(
            {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_data_id}
        )

    # -- media ------------------------------------------------------------------------------

    async def _media_upload(self, request: web.Request) -> web.Response:
        self._check_token(request)
        kind = request.query.get("type", "")
        if kind not in MEDIA_LIMITS:
            raise Answer(40004, "invalid media type")
        if not request.content_type.startswith("multipart/"):
            raise Answer(41005, "media data missing")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            raise Answer(41005, "media data missing")
        data = media.file.read()
        if not data or len(data) > MEDIA_LIMITS[kind]:
            raise Answer(40006, "invalid meida size")
        media_id = secrets.token_urlsafe(32)
        created_at = int(self.now())
        info = {"type": kind, "filename": media.filename, "size": len(data), "media_id": media_id}
        self.media[media_id] = info
        self.record("media_upload", info)
        return json_response({"type": kind, "media_id": media_id, "created_at": created_at})
