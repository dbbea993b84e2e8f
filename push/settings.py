"""The push service's view of the settings (``core.config.Settings``), with the derived numbers it needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import Settings
from core.errors import ConfigError

ACCOUNT_TYPES = ("service", "subscription")


@dataclass(frozen=True)
class PushSettings:
    public_url: str = "http://127.0.0.1:8080"
    account_type: str = "service"
    template_id: str = ""
    mass_protection: bool = False
    loudspeaker_upload_url: str = ""
    misfire_grace_seconds: float = 6 * 3600.0
    lease_seconds: float = 60.0
    max_attempts: int = 8
    robot_interval: float = 3.0  # seconds between two messages of one robot (20 a minute)
    mass_interval: float = 1.0  # seconds between two mass-send calls (60 a minute)
    template_interval: float = 0.05  # seconds between two template messages
    broadcast_dir: str = "var/broadcast"
    secret_key: str = field(default="", repr=False)  # CUNWU_SECRET_KEY, to read the robots' webhook keys

    @property
    def uses_templates(self) -> bool:
        """Template messages per follower (verified 服务号 with a template) instead of mass send by tag."""
        return self.account_type == "service" and bool(self.template_id)

    def page_url(self, notice_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/n/{notice_id}"

    @classmethod
    def from_settings(cls, settings: Settings) -> PushSettings:
        if settings.wechat_account_type not in ACCOUNT_TYPES:
            raise ConfigError(
                "CUNWU_WECHAT_ACCOUNT_TYPE 应为 service（服务号）或 subscription（公众号），"
                f"现为 {settings.wechat_account_type!r}"
            )
        for name in ("push_robot_rate_per_minute", "push_mass_rate_per_minute", "push_template_rate"):
            if getattr(settings, name) <= 0:
                raise ConfigError(f"设置 {name} 应为正数")
        return cls(
            public_url=settings.public_url,
            account_type=settings.wechat_account_type,
            template_id=settings.wechat_template_id,
            mass_protection=settings.wechat_mass_protection,
            loudspeaker_upload_url=settings.loudspeaker_upload_url,
            misfire_grace_seconds=settings.push_misfire_grace_hours * 3600.0,
            lease_seconds=settings.push_lease_seconds,
            max_attempts=settings.push_max_attempts,
            robot_interval=60.0 / settings.push_robot_rate_per_minute,
            mass_interval=60.0 / settings.push_mass_rate_per_minute,
            template_interval=1.0 / settings.push_template_rate,
            broadcast_dir=settings.broadcast_dir,
            secret_key=settings.secret_key,
        )
