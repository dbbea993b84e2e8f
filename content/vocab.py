"""Fixed vocabularies of the standard catalog template."""

from __future__ import annotations

DOMAINS: dict[str, str] = {
    "01": "重大建设项目",
    "02": "公共资源交易",
    "03": "义务教育",
    "04": "户籍管理",
    "05": "社会救助",
    "06": "养老服务",
    "07": "公共法律服务",
    "08": "财政预决算",
    "09": "就业创业",
    "10": "社会保险",
    "11": "国土空间规划",
    "12": "征地补偿",
    "13": "环境保护",
    "14": "国有土地上房屋征收",
    "15": "保障性住房",
    "16": "农村危房改造",
    "17": "市政服务",
    "18": "城市综合执法",
    "19": "涉农补贴",
    "20": "公共文化服务",
    "21": "医疗卫生",
    "22": "安全生产",
    "23": "救灾",
    "24": "食品药品监管",
    "25": "扶贫",
    "26": "税收管理",
}
DOMAIN_NUMBERS = {name: no for no, name in DOMAINS.items()}

CHANNELS = (
    "政府网站",
    "政府公报",
    "两微一端",
    "发布会/听证会",
    "广播电视",
    "纸质媒体",
    "公开查阅点",
    "政务服务中心",
    "便民服务站",
    "入户/现场宣传",
    "社区/企事业单位/村公示栏（电子屏）",
    "精准推送",
    "其他",
)
NOTICE_BOARD = "社区/企事业单位/村公示栏（电子屏）"
METHODS = ("主动", "依申请")
LEVELS = ("县级", "乡级")
AUDIENCE_ALL = "全社会"
AUDIENCE_GROUP_PREFIX = "特定群体："

DISCLOSURE_PUBLIC = "此件公开发布"
DISCLOSURE_REDACTED = "此件删减后公开"
DISCLOSURE_ON_APPLICATION = "此件依申请公开"
DISCLOSURE_SECRET = "此件不公开"
DISCLOSURES = (DISCLOSURE_PUBLIC, DISCLOSURE_REDACTED, DISCLOSURE_ON_APPLICATION, DISCLOSURE_SECRET)
STATUS_CURRENT = "现行有效"
STATUS_ABOLISHED = "已废止"
REDACTED_HEADING = "删减部分"

CATALOG_COLUMNS = (
    "编码",
    "试点领域",
    "一级事项",
    "二级事项",
    "公开内容（要素）",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
    "公开对象",
    "公开方式",
    "公开层级",
)
TOWNSHIP_COLUMN = "乡镇"


def is_must_carry(levels: list[str], channels: list[str], method: str) -> bool:
    """必备事项: published at township level, on the village notice board, proactively."""
    return "乡级" in levels and NOTICE_BOARD in channels and method == "主动"
