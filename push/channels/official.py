"""The official account: mass send (群发) by village tag, and template messages per follower.

Mass send quotas are taken in the database before the platform is called, and refused with a clear message
when used up: a 服务号 follower receives at most 4 mass sends a month (a send by tag counts against every
follower it reaches, so the budget is 4 a month per village tag); a 公众号 (formerly 订阅号) gets one
successful send a day. ``clientmsgid`` is built from notice, tag, generation and slot, so a repeated call is
answered 45065 and recorded as already sent. 45066 means wait a minute. "send success" only means accepted:
the outcome arrives as ``MASSSENDJOBFINISH`` (``push.receipts``).

Template messages carry a title, a date and the link to the notice page (fields ≤ 20 characters).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from core.clock import CHINA_TZ
from push import queue
from push.channels.base import SendContext
from push.delivery import Claimed, Permanent, Retry, Sent
from push.text import mass_text, template_data
from wechat.errors import PlatformBusy, PlatformUnavailable, QuotaExceeded, WeChatError

SERVICE_MONTHLY = 4
SUBSCRIPTION_DAILY = 1
TOO_FAST = 45066
NO_QUOTA = 45028


def clientmsgid(notice_id: str, target: str, generation: int, slot: str) -> str:
    """Deterministic and at most 64 bytes: TZ-2026-028.QH01.g1.202611250100."""
    compact = re.sub(r"\D", "", slot)[:12] or "now"
    value = f"{notice_id}.{target}.g{generation}.{compact}"
    return value[:64]


def quota_key(account_type: str, target: str, now: dt.datetime) -> tuple[str, int, str]:
    """(counter key, limit, what the limit is) for a mass send to ``target`` at ``now``."""
    local = now.astimezone(CHINA_TZ)
    if account_type == "subscription":
        return f"mass:day:{local:%Y-%m-%d}", SUBSCRIPTION_DAILY, "公众号（原订阅号）每天只能成功群发 1 次"
    return f"mass:{target}:{local:%Y-%m}", SERVICE_MONTHLY, "服务号每位关注者每月最多收到 4 次群发"


def _wechat(ctx: SendContext):  # type: ignore[no-untyped-def]
    if ctx.wechat is None:
        raise Permanent("未配置公众号（CUNWU_WECHAT_APPID / CUNWU_WECHAT_SECRET）")
    return ctx.wechat


TAG_EXISTS = 45157


async def _tag_id(ctx: SendContext, name: str) -> int:
    """The platform id of tag ``name``, created when missing (once, however many sends ask at the same time;
    another process creating it first answers 45157, and the tag is then read back)."""
    async with ctx.lock(f"tag:{name}"):
        if name not in ctx.tag_ids:
            client = _wechat(ctx)
            for tag in await client.list_tags():
                ctx.tag_ids[tag.name] = tag.id
            if name not in ctx.tag_ids:
                try:
                    ctx.tag_ids[name] = await client.create_tag(name)
                except WeChatError as exc:
                    if exc.errcode != TAG_EXISTS:
                        raise
                    ctx.tag_ids.update({t.name: t.id for t in await client.list_tags()})
        return ctx.tag_ids[name]


def _retryable(exc: WeChatError) -> bool:
    return isinstance(exc, PlatformBusy | PlatformUnavailable)


class MassSendChannel:
    name = "oa_mass"

    async def send(self, job: Claimed, ctx: SendContext) -> Sent:
        client = _wechat(ctx)
        notice = await ctx.notice(job.notice_id)
        village = await ctx.village(job.target)
        if village is None or not village.oa_tag:
            raise Permanent(f"{job.target} 未设置公众号标签（cunwu village channels {job.target} --oa-tag）")
        key, limit, rule = quota_key(ctx.settings.account_type, job.target, ctx.now())
        if not await asyncio.to_thread(queue.take_quota, ctx.engine, key, limit):
            raise Permanent(f"群发次数已用完：{rule}。{village.name}本次未群发（未调用微信接口）")
        try:
            tag_id = await _tag_id(ctx, village.oa_tag)
            await ctx.pace("oa:mass", ctx.settings.mass_interval)
            result = await client.mass_send_text_by_tag(
                tag_id,
                mass_text(notice, ctx.settings.page_url(notice.id), late=job.late),
                clientmsgid(notice.id, job.target, notice.generation, job.slot),
            )
        except BaseException as exc:
            await asyncio.to_thread(queue.give_back_quota, ctx.engine, key)
            if isinstance(exc, WeChatError):
                raise _mass_error(exc) from None
            raise
        msg_id = str(result.msg_id or "")
        if result.duplicate:
            return Sent(note="微信已有相同 clientmsgid 的群发（45065），未重复发送", external_id=msg_id)
        if ctx.settings.mass_protection:
            return Sent(note="已提交，等待管理员在 30 分钟内确认（群发保护）", external_id=msg_id)
        return Sent(note="已提交，等待 MASSSENDJOBFINISH 结果", external_id=msg_id)


def _mass_error(exc: WeChatError) -> Exception:
    if exc.errcode == TOO_FAST:
        return Retry("群发过于频繁（45066），一分钟后重试", after=60.0)
    if exc.errcode == NO_QUOTA or isinstance(exc, QuotaExceeded):
        return Permanent(f"微信拒绝群发：本期群发次数已用完（errcode {exc.errcode}）")
    if _retryable(exc):
        return Retry(f"微信平台暂时不可用：{exc.message}")
    return Permanent(f"群发失败：{exc.message}")


class TemplateChannel:
    name = "template"

    async def send(self, job: Claimed, ctx: SendContext) -> Sent:
        client = _wechat(ctx)
        notice = await ctx.notice(job.notice_id)
        await ctx.pace("oa:template", ctx.settings.template_interval)
        when = notice.send_at or ctx.now()
        try:
            msgid = await client.send_template(
                job.target, ctx.settings.template_id, template_data(notice, when), url=ctx.settings.page_url(notice.id)
            )
        except QuotaExceeded:
            raise Retry("模板消息今日调用次数已用完（45009），明天继续", after=3600.0) from None
        except WeChatError as exc:
            if _retryable(exc):
                raise Retry(f"微信平台暂时不可用：{exc.message}") from None
            raise Permanent(f"模板消息发送失败：{exc.message}") from None
        return Sent(external_id=str(msgid or ""))
