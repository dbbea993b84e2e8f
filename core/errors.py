"""The error hierarchy. Every error carries a Chinese message for the person reading it.

``AppError``
├── ``ConfigError``        settings missing or malformed
├── ``DatabaseError``      schema behind, database unreachable
│   ├── ``SchemaOutdated`` run ``cunwu db upgrade``
│   ├── ``SchemaNewer``    the database comes from a newer release: upgrade cunwu
│   └── ``ClaimTimeout``   (bot.conversation) a message could not be recorded within the reply budget
├── ``NotFound``           an id, code or village that does not exist
├── ``Refused``            a risky action that needs an explicit flag (``--force``, ``--allow-retire``)
├── ``ValidationFailed``   input rejected; ``problems`` lists every ``Problem``
├── ``MatcherNotReady``    (bot.matching) the matcher is still being built
└── ``MatcherWorkerError`` (bot.matcher_process) a worker could not build its index, or failed
"""

from __future__ import annotations

from dataclasses import dataclass


class AppError(Exception):
    """Base of our errors. ``message`` is what a staff member or villager reads."""

    exit_code = 1

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ConfigError(AppError):
    exit_code = 2


class DatabaseError(AppError):
    pass


class SchemaOutdated(DatabaseError):
    def __init__(self, message: str = "数据库结构不是最新版本，请先运行：cunwu db upgrade") -> None:
        super().__init__(message)


class SchemaNewer(DatabaseError):
    exit_code = 2

    def __init__(self, revision: str) -> None:
        super().__init__(f"数据库版本 {revision} 比程序新，请升级 cunwu")
        self.revision = revision


class NotFound(AppError):
    pass


class Refused(AppError):
    pass


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where (file, line, column) and what."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


class ValidationFailed(AppError):
    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or f"输入有 {len(self.problems)} 处错误，未写入任何数据")
