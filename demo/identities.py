"""Made-up but well-formed identities: credit codes, identity numbers, names (seeded, pure).

Check characters follow shared/ids.py (GB 32100-2015 and GB 11643-1999), using its alphabets and
weights, so every generated identifier passes `uscc_is_valid` / `resident_id_problem` unless a
defect is put in on purpose.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Final

from shared.ids import (
    RESIDENT_ID_CHECK_CHARS,
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
)

# Registration authority + kind (GB 32100-2015 table 1): 91 enterprise, 12 public institution.
USCC_KIND_ENTERPRISE: Final = "91"
USCC_KIND_INSTITUTION: Final = "12"

_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
    "于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱覃武戴孔"
)
_GIVEN: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲兰凤梅琳鹏飞辉斌宇浩凯"
    "健俊帆帅旭宁龙林欣佳雪婷巴特尔图雅其木格乌兰托娅苏日娜额尔敦朝鲁那仁"
)
_TRADES: Final = ("商贸", "能源", "煤业", "乳业", "建工", "物流", "稀土", "农牧", "科技", "化工",
                  "冶金", "电力", "羊绒", "食品", "旅游", "医药", "建材", "通信", "汽运", "置业")
_SUFFIXES: Final = ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司")
_INSTITUTIONS: Final = ("第一中学", "第二中学", "实验小学", "人民医院", "中医医院",
                        "疾病预防控制中心", "档案馆", "图书馆", "职业技术学院",
                        "农牧业技术推广中心", "气象局",
                        "社会保险事业管理局", "水利事业发展中心", "林业和草原工作站")
_BIRTH_YEAR_MIN: Final = 1965
_BIRTH_YEAR_MAX: Final = 2002


def uscc_check_char(first_17: str) -> str:
    values = [USCC_ALPHABET.index(c) for c in first_17]
    weighted = sum(v * w for v, w in zip(values, USCC_WEIGHTS, strict=True))
    modulus = len(USCC_ALPHABET)
    return USCC_ALPHABET[(modulus - weighted % modulus) % modulus]


def resident_id_check_char(first_17: str) -> str:
    weighted = sum(int(c) * w for c, w in zip(first_17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK_CHARS[weighted % 11]


def make_uscc(rng: random.Random, kind: str, division_code: str) -> str:
    """18 characters: kind, 6-digit division, 9-character organisation code, check char."""
    organisation = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    first_17 = kind + division_code + organisation
    return first_17 + uscc_check_char(first_17)


def corrupt_uscc_check(rng: random.Random, uscc: str) -> str:
    """The same code with a different (so wrong) check character."""
    wrong = [c for c in USCC_ALPHABET if c != uscc[-1]]
    return uscc[:-1] + rng.choice(wrong)


def make_resident_id(rng: random.Random, address_code: str) -> str:
    born = dt.date(rng.randint(_BIRTH_YEAR_MIN, _BIRTH_YEAR_MAX), rng.randint(1, 12),
                   rng.randint(1, 28))
    first_17 = f"{address_code}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first_17 + resident_id_check_char(first_17)


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


def employer_name(rng: random.Random, city: str, institution: bool, number: int) -> str:
    # The number keeps names unique; real registries never allow two identical names in a city.
    if institution:
        return f"{city}{rng.choice(_INSTITUTIONS)}（{number}）"
    return f"{city}{rng.choice(_TRADES)}{number}号{rng.choice(_SUFFIXES)}"
