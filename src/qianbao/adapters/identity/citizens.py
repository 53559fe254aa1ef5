"""The sandbox's register of citizens: made-up people with valid resident ID numbers.

The sandbox identity verifier answers from this register (a registered number with another name is a
mismatch), and the sandbox ID-card reader can place any of these people's cards on a device, so the demo
and the tests have consistent people to open wallets for. Every number here passes the GB 11643 check,
has a real birth date and a region code in use; none belongs to a real person as far as we know (the
first is the published example number of the standard's documentation).

Ages are fixed by birth dates, so who is a minor changes with the calendar: 赵小雨 is under 18 until
2028-06-01. The table in docs/identity.md lists the same people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class SandboxCitizen:
    name: str
    id_number: str
    ethnicity: str
    address: str
    issuing_authority: str
    # When the card they hold was issued; its validity follows from their age on that day.
    issued_on: date
    # What the demo or a test uses this person for.
    note: str


SANDBOX_CITIZENS: tuple[SandboxCitizen, ...] = (
    SandboxCitizen(
        "王秀英", "11010519491231002X", "汉", "北京市朝阳区建国路88号", "北京市公安局朝阳分局",
        date(2006, 5, 10), "a long-term (长期) card; the standard's published example number",
    ),
    SandboxCitizen(
        "李明", "440305199210110058", "汉", "广东省深圳市南山区科技园南路16号", "深圳市公安局南山分局",
        date(2019, 3, 1), "an ordinary adult, card valid until 2039",
    ),
    SandboxCitizen(
        "阿卜杜·热合曼", "650102198503150031", "维吾尔", "新疆维吾尔自治区乌鲁木齐市天山区解放南路120号",
        "乌鲁木齐市公安局天山区分局", date(2012, 7, 20), "an ethnic-minority name with the middle dot",
    ),
    SandboxCitizen(
        "才让卓玛", "540102199008080047", "藏", "西藏自治区拉萨市城关区北京中路46号", "拉萨市公安局城关分局",
        date(2016, 9, 1), "a Tibetan name without a dot",
    ),
    SandboxCitizen(
        "陈静", "310115199506180023", "汉", "上海市浦东新区世纪大道100号", "上海市公安局浦东分局",
        date(2015, 5, 1), "a card that expired on 2025-05-01",
    ),
    SandboxCitizen(
        "刘洋", "510107200001010099", "汉", "四川省成都市武侯区人民南路四段1号", "成都市公安局武侯区分局",
        date(2018, 1, 10), "a young adult, card valid until 2028",
    ),
    SandboxCitizen(
        "孙悦", "31011520080229002X", "汉", "上海市浦东新区张杨路500号", "上海市公安局浦东分局",
        date(2024, 3, 1), "born on 29 February 2008: 18 from 2026-02-28",
    ),
    SandboxCitizen(
        "赵小雨", "330106201006010084", "汉", "浙江省杭州市西湖区文三路20号", "杭州市公安局西湖区分局",
        date(2022, 7, 1), "a minor until 2028-06-01 (a five-year card, issued under 16)",
    ),
    SandboxCitizen(
        "周建国", "320102196510019132", "汉", "江苏省南京市玄武区中山路1号", "南京市公安局玄武分局",
        date(2011, 10, 1), "sequence 913: the verifier is unsure, so the opening goes to KYC review",
    ),
)

_BY_NUMBER = {citizen.id_number: citizen for citizen in SANDBOX_CITIZENS}


def find_citizen(id_number: str) -> SandboxCitizen | None:
    return _BY_NUMBER.get(id_number.strip().upper())
