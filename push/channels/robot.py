"""WeCom group robots: the notice as numbered ``text`` parts (≤ 2,048 bytes each), 20 a minute per robot.

The budget is paced in the database (one send every 3 s per robot by default), shared by every worker, and all
parts of one notice are reserved together. Answers: ``errcode`` 0 sent; 45009 (and DingTalk's 130101) rate
limited → later; 93000 invalid key → failed, naming the group, for staff to fix. Parts confirmed sent are
recorded, so a retry continues with the next part instead of repeating the group's earlier ones.
"""

from __future__ import annotations

import asyncio
import hashlib

from core.errors import ConfigError, DatabaseError
from push import queue
from push.channels.base import SendContext
from push.delivery import Claimed, Permanent, Retry, Sent, Uncertain
from push.targeting import webhook_key_for
from push.text import reminder_text, robot_parts
from wechat.errors import PlatformBusy, PlatformUnavailable
from wechat.robot import INVALID_KEY, RATE_LIMITED, SendTimedOut, post_text


class RobotChannel:
    name = "robot"

    async def send(self, job: Claimed, ctx: SendContext) -> Sent:
        notice = await ctx.notice(job.notice_id)
        code, _, group = job.target.partition("/")
        try:
            key = await ctx.db(webhook_key_for, job.target, ctx.settings.secret_key)
        except (ConfigError, DatabaseError) as exc:  # no CUNWU_SECRET_KEY, or a key stored under another one
            raise Permanent(f"微信群“{group}”（{code}）的机器人 key 无法读取：{exc.message}") from None
        if not key:
            raise Permanent(
                f"微信群“{group}”（{code}）未设置群机器人 key：cunwu village channels {code} --robot {group}=KEY"
            )
        if job.kind == "reminder":
            parts = [reminder_text(notice)]
        else:
            parts = robot_parts(notice, ctx.settings.page_url(notice.id), late=job.late)
        remaining = parts[job.parts_sent :]
        # the budget is per robot key; the rate table holds a digest, never the key itself
        budget = "robot:" + hashlib.sha256(key.encode()).hexdigest()[:24]
        start = await ctx.pace(budget, ctx.settings.robot_interval, len(remaining))
        for index, part in enumerate(remaining):
            await ctx.wait_until(start + index * ctx.settings.robot_interval)
            try:
                answer = await post_text(ctx.http, ctx.wecom_api_base, key, part)
            except PlatformUnavailable as exc:
                raise Retry(f"无法连接企业微信：{exc.detail or exc.message}") from None
            except SendTimedOut:
                raise Uncertain(
                    f"企业微信未应答（第 {job.parts_sent + index + 1}/{len(parts)} 段），无法确认是否送达"
                ) from None
            except PlatformBusy as exc:
                raise Retry(f"企业微信繁忙：{exc.detail or exc.message}") from None
            if answer.errcode in RATE_LIMITED:
                raise Retry(f"群“{group}”的机器人发送过于频繁（errcode {answer.errcode}），稍后重试", after=60.0)
            if answer.errcode == INVALID_KEY:
                raise Permanent(
                    f"群“{group}”（{code}）的机器人 key 无效（errcode 93000）：请在企业微信群里重新添加机器人，"
                    f"再运行 cunwu village channels {code} --robot {group}=新KEY"
                )
            if answer.errcode == -1:
                raise Retry(f"企业微信繁忙（errcode -1）：{answer.errmsg}")
            if not answer.ok:
                raise Permanent(f"群“{group}”的机器人返回错误 errcode {answer.errcode}：{answer.errmsg}")
            if len(parts) > 1:
                await asyncio.to_thread(
                    queue.record_progress, ctx.engine, job.id, ctx.worker, job.parts_sent + index + 1
                )
        return Sent(note=f"{len(parts)} 段" if len(parts) > 1 else "")
