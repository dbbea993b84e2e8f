"""``cunwu load-sample``: load the demo township (云岭县清河镇) shipped in examples/qinghe."""

from __future__ import annotations

from pathlib import Path

import click

from admin_cli.context import CliContext, pass_ctx
from content.catalog_import import import_catalog
from content.interp_import import import_interpretations
from content.models import Township
from content.repository import get_or_create_township
from core.schema import upgrade

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "qinghe"
SAMPLE_TOWNSHIP = "清河镇"
SAMPLE_PHONE = "0883-6712001"


@click.command("load-sample")
@click.option(
    "--dir",
    "sample_dir",
    type=click.Path(file_okay=False, exists=True),
    default=str(SAMPLE_DIR),
    show_default=True,
    help="示例数据文件夹",
)
@pass_ctx
def cli(obj: CliContext, sample_dir: str) -> None:
    """升级数据库并载入示例乡镇（目录、解读、村庄与清单）。可重复运行。"""
    base = Path(sample_dir)
    upgrade(obj.engine)
    with obj.session() as session:
        ts = get_or_create_township(session, SAMPLE_TOWNSHIP)
        assert isinstance(ts, Township)
        ts.county = "云岭县"
        ts.service_phone = ts.service_phone or SAMPLE_PHONE
        cat = import_catalog(session, base / "township_catalog.csv", township=SAMPLE_TOWNSHIP)
        interp = import_interpretations(session, [base / "interpretations"])
        summary = _load_villages(session, base)
    click.echo(f"目录：{cat.total} 个事项（{len({c for c in _domains(obj)})} 个领域）")
    click.echo(
        f"政策解读：{len(interp.added) + len(interp.updated) + interp.unchanged} 篇"
        f"（其中不公开 {len(interp.metadata_only)} 篇，只存元数据）"
    )
    for line in summary:
        click.echo(line)


def _domains(obj: CliContext) -> set[str]:
    from content.repository import list_items

    with obj.session() as session:
        return {it.domain for it in list_items(session)}


def _load_villages(session, base: Path) -> list[str]:  # type: ignore[no-untyped-def]
    try:
        from village_lists.importer import import_list, import_villages
    except ImportError:
        return []
    villages = import_villages(session, base / "villages.csv")
    lines = [f"村庄：{len(villages.codes)} 个"]
    for path in sorted((base / "village_lists").glob("*.csv")):
        rep = import_list(session, path.stem, path)
        lines.append(f"  {path.stem} 清单：{rep.rows} 行")
    return lines
