"""Demo data: a district network, users of every role and cases in every state.

Nothing here writes a case directly. Every case is registered and moved through the
workflow by the real services (`register_case`, `trigger_event`, the record actions and
the deadline sweep) while a `MovableClock` walks from about ninety days ago to now, so
clocks, breaches, escalations, timelines and outbox rows are exactly what the product
itself would have written. The outbox rows are left pending: the first `carnation serve`
(or `carnation worker`) delivers them, as it would after any downtime.

Every name, phone number, ID number and address is generated from syllable lists with a
seeded `random.Random`: they describe nobody.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from workflow.calendar import WorkCalendar
from workflow.clock import MovableClock
from workflow.errors import CarnationError
from workflow.eventdata import add_months
from workflow.runtime import Runtime
from workflow.services import actions, admin
from workflow.services import cases as case_service
from workflow.services import sweep as sweep_service
from workflow.services.actors import Actor, load_actor
from workflow.services.auth import hash_password
from workflow.storage.models import (
    Case,
    ClockInstance,
    EscalationStep,
    OutboxMessage,
    Station,
    User,
)

DEFAULT_PASSWORD = "carnation-demo"
DEFAULT_CASES = 200
DEFAULT_VILLAGES = 218
DEFAULT_TOWNS = 12
DEFAULT_SEED = 20260308  # International Women's Day
SPAN = timedelta(days=90)
SWEEP_EVERY = timedelta(hours=3)
EMAIL_DOMAIN = "demo.example.org"  # RFC 2606: mail to it reaches nobody

DISTRICT = ("D01", "示范区妇联")
COURT = ("C01", "区人民法院妇女维权合议庭")
STATES = ("intake", "mediation", "referred", "court", "closed")
ROLE_ORDER = ("admin", "supervisor", "caseworker", "volunteer", "court_liaison")


class DemoRefused(CarnationError):
    """The database holds another network: demo data goes only into an empty one."""

    code = "demo_refused"
    status = 409


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    station: str
    station_name: str
    email: str | None
    language: str


@dataclass
class DemoSummary:
    """What the database holds after `load_demo` (whether or not this call made it)."""

    created: bool
    stations: dict[str, int]
    users: dict[str, int]
    states: dict[str, int]
    overdue: int
    escalated: int
    pending_outbox: int
    logins: list[Login]
    refused: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.states.values())


# -- generated people and places -------------------------------------------------------------

TOWN_NAMES = [
    ("城关镇", False),
    ("东城街道", True),
    ("西城街道", True),
    ("河口镇", False),
    ("石桥镇", False),
    ("柳林镇", False),
    ("龙泉镇", False),
    ("白沙镇", False),
    ("青山镇", False),
    ("新华街道", True),
    ("南湖街道", True),
    ("马集镇", False),
]
VILLAGE_FIRST = (
    "东西南北前后上下大小新老柳杨桃杏枣梨石沙河桥湖塘"
    "山岭松竹梅兰龙凤马牛金银丰安宁和兴福永长青白黄红"
)
VILLAGE_SECOND = "庄湾店集营寨屯坪岗沟桥河洼楼铺园林岭坡口头塘堡圩"
COMMUNITY_FIRST = "金银春秋文华锦翠和康乐安新光明祥瑞景惠民兴盛永福"
COMMUNITY_SECOND = "苑园城里坊庭湾府街桥湖岸"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
)
FEMALE_GIVEN = (
    "秀丽芳娟敏静燕红霞玲桂英梅兰萍琴云莉婷雪慧佳颖洁琳晶倩月凤华艳娜丹玉春菊翠荣淑珍娥彩"
)
MALE_GIVEN = "伟强军勇杰涛明刚平辉建国华志海波鹏林斌超峰磊亮东成德福兵山永庆宝"
GIRL_GIVEN = "欣怡梓涵诗雨思语可馨若萱子琪佳悦一诺雅静"
FIRM_SYLLABLES = "恒达鑫华兴源宏泰盛丰隆瑞佳美新安"
FIRM_TRADES = ["纺织", "服装", "食品", "电子", "物流", "建材", "家政服务", "农业开发"]
MOBILE_PREFIXES = [
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "157",
    "158", "159", "177", "180", "181", "186", "187", "188", "189", "199",
]  # fmt: skip
ID_REGIONS = ["371321", "371322", "371323", "371324"]
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"


def id_number_check(first17: str) -> str:
    """The check character of an 18-character resident ID number (GB 11643, ISO 7064)."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


class People:
    """Names, numbers and addresses, never repeating a phone or an ID number."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()
        self.id_numbers: set[str] = set()

    def name(self, given: str = FEMALE_GIVEN) -> str:
        count = 2 if self.rng.random() < 0.7 else 1
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(given) for _ in range(count))

    def man(self) -> str:
        return self.name(MALE_GIVEN)

    def girl(self, surname: str | None = None) -> str:
        rest = "".join(self.rng.choice(GIRL_GIVEN) for _ in range(2))
        return (surname or self.rng.choice(SURNAMES)) + rest

    def firm(self) -> str:
        pick = "".join(self.rng.sample(FIRM_SYLLABLES, 2))
        return f"{pick}{self.rng.choice(FIRM_TRADES)}有限公司"

    def phone(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def id_number(self, today: date, age: int, female: bool = True) -> str:
        while True:
            born = date(today.year - age, 1, 1) + timedelta(days=self.rng.randrange(365))
            sequence = self.rng.randrange(1, 500) * 2 + (0 if female else 1)
            first17 = f"{self.rng.choice(ID_REGIONS)}{born:%Y%m%d}{sequence:03d}"
            number = first17 + id_number_check(first17)
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number


def _village_names(rng: random.Random, count: int, community: list[bool]) -> list[str]:
    taken: set[str] = set()
    names = []
    for index in range(count):
        while True:
            if community[index]:
                stem = rng.choice(COMMUNITY_FIRST) + rng.choice(COMMUNITY_SECOND)
                name = f"{stem}社区"
            else:
                stem = rng.choice(VILLAGE_FIRST) + rng.choice(VILLAGE_SECOND)
                name = f"{stem}村"
            if stem not in taken:
                taken.add(stem)
                names.append(name)
                break
    return names


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` villages over ``parts`` towns, unevenly, each town at least one."""
    weights = [rng.uniform(0.65, 1.35) for _ in range(parts)]
    sizes = [max(1, round(total * w / sum(weights))) for w in weights]
    while sum(sizes) > total:
        sizes[sizes.index(max(sizes))] -= 1
    while sum(sizes) < total:
        sizes[sizes.index(min(sizes))] += 1
    return sizes


# -- the network ----------------------------------------------------------------------------


@dataclass
class Place:
    code: str
    name: str  # the village or community, without the station suffix
    town: str  # the town's code
    town_name: str


@dataclass
class UserSpec:
    username: str
    role: str
    station: str
    email: bool = False
    language: str = "zh"
    phone: bool = False


@dataclass
class Network:
    stations: list[tuple[str, str, str, str | None]]
    places: list[Place]
    users: list[UserSpec]
    caseworkers: dict[str, list[str]]  # village code → usernames
    volunteers: dict[str, list[str]]
    town_supervisor: dict[str, str]  # town code → username


def plan_network(rng: random.Random, villages: int, towns: int) -> Network:
    if not 1 <= towns <= 99:
        raise ValueError("towns: between 1 and 99")
    if not towns <= villages <= 999:
        raise ValueError("villages: at least one per town, at most 999")
    town_names = [
        TOWN_NAMES[i] if i < len(TOWN_NAMES) else (f"第{i + 1}镇", False) for i in range(towns)
    ]
    sizes = _split(rng, villages, towns)
    stations: list[tuple[str, str, str, str | None]] = [(*DISTRICT, "district", None)]
    town_of: list[int] = []
    for index, (name, _) in enumerate(town_names):
        stations.append((f"T{index + 1:02d}", f"{name}妇联", "town", DISTRICT[0]))
        town_of.extend([index] * sizes[index])
    names = _village_names(rng, villages, [town_names[t][1] for t in town_of])
    places = []
    for number, (town_index, name) in enumerate(zip(town_of, names, strict=True), start=1):
        code, town_code = f"V{number:03d}", f"T{town_index + 1:02d}"
        stations.append((code, f"{name}妇女维权服务站", "village", town_code))
        places.append(Place(code, name, town_code, town_names[town_index][0]))
    stations.append((*COURT, "court", None))

    users = [
        UserSpec("admin", "admin", DISTRICT[0], email=True),
        UserSpec("district.sup", "supervisor", DISTRICT[0], email=True, phone=True),
    ]
    town_supervisor = {}
    for index in range(towns):
        code = f"T{index + 1:02d}"
        username = f"town{index + 1:02d}.sup"
        town_supervisor[code] = username
        users.append(
            UserSpec(
                username,
                "supervisor",
                code,
                email=index < 2,
                language="en" if index == 1 else "zh",
                phone=True,
            )
        )
    caseworkers: dict[str, list[str]] = {}
    volunteers: dict[str, list[str]] = {}
    first_villages: dict[str, list[str]] = {}
    for place in places:
        first_villages.setdefault(place.town, []).append(place.code)
    for town_index, code in enumerate(sorted(first_villages)):
        for position, village in enumerate(first_villages[code][:2]):
            prefix = village.lower()
            names = [f"{prefix}.cw"] + ([f"{prefix}.cw2"] if village == "V001" else [])
            caseworkers[village] = names
            for name in names:
                users.append(UserSpec(name, "caseworker", village, email=village == "V001"))
            if town_index < 3 and (position == 0 or town_index == 0):
                volunteers[village] = [f"{prefix}.vol"]
                users.append(UserSpec(f"{prefix}.vol", "volunteer", village))
    users.append(UserSpec("court.liaison", "court_liaison", COURT[0], email=True, phone=True))
    users.append(UserSpec("court.liaison2", "court_liaison", COURT[0], language="en"))
    return Network(stations, places, users, caseworkers, volunteers, town_supervisor)


# -- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    action: str
    gap: tuple[float, float]  # days after the previous step (or the registration)
    urgent: bool = False  # placed to the hour, not moved into office hours
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


def step(action: str, lo: float, hi: float, urgent: bool = False, **options: Any) -> Step:
    return Step(action, (lo, hi), urgent, tuple(sorted(options.items())))


@dataclass(frozen=True)
class Shape:
    """The category family a scenario needs: generic, domestic violence, a minor victim…"""

    family: str = "generic"
    risk: tuple[str, ...] = ()
    urgent: bool = False  # no paper (letter) intake: its clock would open days earlier


Builder = Callable[[random.Random], tuple[list[Step], tuple[float, float]]]


def _mediation(rng: random.Random, sessions: tuple[int, int] = (1, 2)) -> list[Step]:
    steps = [step("accept", 0.05, 4)]
    for _ in range(rng.randint(*sessions)):
        steps.append(step("session", 2, 10))
    if rng.random() < 0.4:
        steps.append(step("note", 0.5, 5))
    return steps


def _litigation(rng: random.Random) -> list[Step]:
    return [*_mediation(rng, (1, 2)), step("refer", 2, 12, kind="litigation")]


def _protection_order(rng: random.Random) -> list[Step]:
    urgent = rng.random() < 0.4
    return [
        step("accept", 0.02, 0.4, urgent=True),
        step("refer", 0.02, 0.4, urgent=True, kind="protection_order"),
        step("acknowledge", 0.1, 0.5, urgent=True, urgent_court=urgent),
    ]


def _rule(outcome: str, urgent_court: bool) -> Step:
    # Hour clocks: 24 hours when urgent, else 72; a step may wait out a night (9.5 h).
    hi = 0.55 if urgent_court else 2.4
    return step("rule", 0.2, hi, urgent=True, outcome=outcome)


def _settled(rng: random.Random) -> list[Step]:
    return [*_mediation(rng), step("settle", 0.5, 6)]


def _scenario_table() -> list[tuple[str, int, Shape, Builder]]:
    def po(outcome: str | None, tail: tuple[float, float]) -> Builder:
        def build(rng: random.Random) -> tuple[list[Step], tuple[float, float]]:
            steps = _protection_order(rng)
            if outcome is not None:
                steps.append(_rule(outcome, steps[-1].option("urgent_court")))
                if rng.random() < 0.6:
                    steps.append(step("session", 3, 12))
            return steps, tail

        return build

    return [
        ("intake_new", 12, Shape(), lambda r: ([], (0.02, 9))),
        ("intake_overdue", 7, Shape(), lambda r: ([step("note", 1, 3)], (20, 70))),
        (
            "intake_emergency_overdue",
            1,
            Shape("dv", ("emergency",), urgent=True),
            lambda r: ([], (1.3, 4)),
        ),
        (
            "intake_suspended",
            2,
            Shape(),
            lambda r: ([step("suspend", 2, 6, clock="acceptance")], (4, 25)),
        ),
        ("mediation_new", 10, Shape(), lambda r: ([step("accept", 0.05, 4)], (0.5, 18))),
        ("mediation_active", 18, Shape(), lambda r: (_mediation(r), (1, 18))),
        ("mediation_overdue", 6, Shape(), lambda r: (_mediation(r, (1, 1))[:2], (63, 72))),
        (
            "mediation_extended",
            4,
            Shape(),
            lambda r: (
                [
                    step("accept", 0.5, 3),
                    step("session", 3, 8),
                    step("extend", 28, 35, days=r.randint(20, 30)),
                ],
                (10, 20),
            ),
        ),
        (
            "mediation_suspended",
            2,
            Shape(),
            lambda r: (
                [
                    step("accept", 0.2, 3),
                    step("suspend", 3, 10, clock="resolution"),
                    *([step("resume", 5, 15, clock="resolution")] if r.random() < 0.5 else []),
                ],
                (1, 12),
            ),
        ),
        (
            "settled_followed_up",
            20,
            Shape(),
            lambda r: ([*_settled(r), step("follow_up", 5, 25)], (0.5, 35)),
        ),
        ("settled_recent", 6, Shape(), lambda r: (_settled(r), (0.5, 25))),
        ("settled_follow_up_overdue", 3, Shape(), lambda r: (_settled(r), (33, 50))),
        (
            "closed_unresolved",
            7,
            Shape(),
            lambda r: ([*_mediation(r), step("close_unresolved", 1, 8)], (0.5, 45)),
        ),
        ("declined", 6, Shape(), lambda r: ([step("decline", 0.5, 6)], (0.5, 70))),
        ("withdrawn_in_intake", 3, Shape(), lambda r: ([step("withdraw", 0.5, 5)], (0.5, 70))),
        (
            "withdrawn_in_mediation",
            4,
            Shape(),
            lambda r: ([*_mediation(r, (0, 1)), step("withdraw", 3, 15)], (0.5, 45)),
        ),
        ("referred_waiting", 3, Shape("court"), lambda r: (_litigation(r), (0.04, 1.2))),
        ("referred_overdue", 3, Shape("court"), lambda r: (_litigation(r), (6, 20))),
        (
            "referred_withdrawn",
            1,
            Shape("court"),
            lambda r: ([*_litigation(r), step("withdraw", 0.5, 2)], (1, 30)),
        ),
        (
            "litigation_in_court",
            6,
            Shape("court"),
            lambda r: ([*_litigation(r), step("acknowledge", 0.3, 2.5)], (1, 40)),
        ),
        (
            "litigation_decided",
            5,
            Shape("court"),
            lambda r: (
                [
                    *_litigation(r),
                    step("acknowledge", 0.3, 2.5),
                    step("decide", 10, 35),
                    *([step("follow_up", 5, 20)] if r.random() < 0.6 else []),
                ],
                (0.5, 12),
            ),
        ),
        (
            "protection_order_awaiting",
            1,
            Shape("dv", ("high", "emergency"), urgent=True),
            lambda r: (
                [
                    step("accept", 0.02, 0.3, urgent=True),
                    step("refer", 0.02, 0.3, urgent=True, kind="protection_order"),
                ],
                (0.04, 0.5),
            ),
        ),
        (
            "protection_order_pending",
            2,
            Shape("dv", ("high", "emergency"), urgent=True),
            po(None, (0.1, 2.3)),
        ),
        (
            "protection_order_overdue",
            1,
            Shape("dv", ("high",), urgent=True),
            po(None, (4, 10)),
        ),
        (
            "protection_order_granted",
            4,
            Shape("dv", ("high", "emergency"), urgent=True),
            po("granted", (1, 45)),
        ),
        (
            "protection_order_denied",
            2,
            Shape("dv", ("high",), urgent=True),
            po("denied", (1, 45)),
        ),
        (
            "judicial_confirmation_done",
            4,
            Shape("settleable"),
            lambda r: (
                [
                    *_settled(r),
                    step("refer", 2, 12, kind="judicial_confirmation"),
                    step("acknowledge", 0.3, 2),
                    step("decide", 3, 10),
                ],
                (0.5, 25),
            ),
        ),
        (
            "judicial_confirmation_in_court",
            2,
            Shape("settleable"),
            lambda r: (
                [
                    *_settled(r),
                    step("refer", 2, 12, kind="judicial_confirmation"),
                    step("acknowledge", 0.3, 2),
                ],
                (0.5, 8),
            ),
        ),
        (
            "returned_by_court",
            4,
            Shape("court"),
            lambda r: (
                [
                    *_litigation(r),
                    step("return", 0.5, 2.5),
                    *([step("session", 3, 10)] if r.random() < 0.6 else []),
                ],
                (1, 25),
            ),
        ),
        (
            "reopened",
            3,
            Shape(),
            lambda r: ([*_settled(r), step("reopen", 5, 25)], (1, 25)),
        ),
        (
            "minor_reported",
            5,
            Shape("minor", urgent=True),
            lambda r: (
                [step("report", 0.05, 0.5, urgent=True), *_mediation(r, (0, 2))],
                (1, 35),
            ),
        ),
        (
            "minor_report_overdue",
            2,
            Shape("minor", urgent=True),
            lambda r: ([step("accept", 0.1, 0.7, urgent=True)], (2, 30)),
        ),
        (
            "minor_found_later",
            1,
            Shape("dv", ("medium", "high"), urgent=True),
            lambda r: (
                [
                    step("accept", 0.1, 2),
                    step("update_minor", 1, 5),
                    step("report", 0.05, 0.5, urgent=True),
                ],
                (1, 30),
            ),
        ),
    ]


SCENARIOS = _scenario_table()


def allocate(cases: int) -> list[str]:
    """Scenario names for ``cases`` cases: each scenario once, the rest by weight."""
    names = [name for name, *_ in SCENARIOS]
    if cases <= len(names):
        return names[:cases]
    rest = cases - len(names)
    total = sum(weight for _, weight, *_ in SCENARIOS)
    shares = [(rest * weight / total, name) for name, weight, *_ in SCENARIOS]
    counts = {name: int(share) for share, name in shares}
    left = rest - sum(counts.values())
    for _, name in sorted(shares, key=lambda item: -(item[0] - int(item[0])))[:left]:
        counts[name] += 1
    return names + [name for name in names for _ in range(counts[name])]


# -- texts ------------------------------------------------------------------------------------

SUMMARIES = {
    "domestic_violence": [
        "丈夫酒后多次殴打申请人，最近一次致面部软组织挫伤，要求制止家庭暴力",
        "婚后长期遭受丈夫辱骂、威胁和殴打，担心人身安全，请求帮助",
        "丈夫因家庭琐事动手打人，并扬言如提出离婚就报复其娘家人",
        "分居后前夫多次到住处纠缠、砸门，申请人不敢回家",
    ],
    "marriage_family": [
        "丈夫外出务工后长期不给生活费，要求调解家庭扶养问题",
        "夫妻感情破裂，女方要求离婚并合理分割共同财产",
        "婆媳矛盾激化，申请人被赶出家门，要求调解",
        "离婚后对方拒不支付子女抚养费",
        "对方拒绝让申请人探望子女，协商未果",
    ],
    "property_rights": [
        "出嫁后土地承包经营权被村民小组收回，要求保障权益",
        "丈夫去世后，夫家亲属阻止申请人居住和继承房屋",
        "宅基地分配中，申请人作为离婚妇女被排除在外",
        "征地补偿款分配时未将申请人列入，要求平等分配",
    ],
    "employment": [
        "怀孕后被用人单位以岗位调整为由辞退，要求维护劳动权益",
        "在企业务工被拖欠工资三个月，多次讨要未果",
        "用人单位以休产假为由降低工资待遇",
    ],
    "child_protection": [
        "女儿在校外遭受他人侵害，监护人请求帮助",
        "孙女父母外出务工，发现其遭受亲属打骂",
        "未成年女儿长期被继父打骂，请求介入保护",
    ],
    "sexual_harassment": [
        "在工作单位多次遭受上司言语和肢体骚扰，要求处理",
        "被邻居多次跟踪和言语骚扰，请求帮助",
        "通过网络持续收到骚扰信息，对方知道其住址",
    ],
    "neighbour_dispute": [
        "与邻居因宅基地界线发生纠纷，多次争吵",
        "邻居修建排水沟影响申请人房屋，协商未果",
        "邻里因修路占地发生矛盾，对方出言威胁",
    ],
    "other": [
        "子女不履行赡养义务，要求协调赡养费分担",
        "婚姻登记信息疑被冒用，请求协助核实",
        "咨询困难妇女救助政策，要求协调相关部门",
    ],
}
RESPONDENTS = {
    "domestic_violence": ["spouse", "spouse", "former_spouse"],
    "marriage_family": ["spouse", "former_spouse", "mother_in_law"],
    "property_rights": ["village_group", "in_laws"],
    "employment": ["employer"],
    "child_protection": ["stepfather", "relative"],
    "sexual_harassment": ["colleague", "neighbour"],
    "neighbour_dispute": ["neighbour"],
    "other": ["son", "relative"],
}
NOTES = [
    "已电话联系申请人，约定面谈时间",
    "与村妇代会主任一同入户走访，了解家庭情况",
    "申请人情绪稳定，已告知其可随时联系维权站",
    "已向村委会了解双方矛盾由来",
    "巾帼志愿者陪同申请人整理相关材料",
]
SESSION_RESULTS = ["双方达成初步共识", "双方分歧较大，约定再次调解", "被申请人同意改正，书面保证"]
AGREEMENTS = [
    "被申请人每月支付生活费二千元，按月转账",
    "双方同意分割共同财产，房屋归女方居住使用",
    "被申请人书面保证不再实施家庭暴力，并赔礼道歉",
    "确认申请人享有承包地份额，由村民小组在下一轮调整中落实",
    "双方按原界线恢复通行，排水沟由被申请人改道",
]
REDIRECTS = ["区人社局劳动监察大队", "区法律援助中心", "区信访局", "区市场监管局"]
REPORT_AGENCIES = ["区公安分局城关派出所", "区民政局未成年人救助保护中心", "区公安分局河口派出所"]


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """One case on its way: its plan, its times and what the services answered so far."""

    scenario: str
    place: Place
    steps: list[Step]
    times: list[datetime]  # registration first, then one per step
    payload: dict[str, Any]
    registrar: str
    worker: str  # who handles it: the station's caseworker, else the town supervisor
    supervisor: str
    liaison: str
    names: list[str]  # the parties, for session records
    case_id: int = 0
    version: int = 0
    number: str = ""
    urgent_court: bool = False
    done: bool = False


class DemoLoader:
    """Plans the cases, then plays their steps in time order through the services."""

    def __init__(
        self,
        rt: Runtime,
        clock: MovableClock,
        network: Network,
        rng: random.Random,
        end: datetime,
        calendar: WorkCalendar,
    ) -> None:
        self.rt, self.clock, self.network, self.rng = rt, clock, network, rng
        self.end = end
        self.calendar = calendar
        self.tz: ZoneInfo = rt.tz
        self.people = People(rng)
        self.actors: dict[str, Actor] = {}
        self.refused: list[str] = []
        self.dockets = {"litigation": 300, "protection_order": 20, "judicial_confirmation": 40}

    # -- time ------------------------------------------------------------------------------
    def office_hours(self, moment: datetime) -> datetime:
        """The moment if it lies in office hours on a working day, else the next opening."""
        local = moment.astimezone(self.tz)
        opening, closing = time(8, 30), time(17, 30)
        if self.calendar.is_working_day(local.date()) and opening <= local.time() <= closing:
            return moment
        day = local.date()
        if local.time() > closing or not self.calendar.is_working_day(day):
            day = self.calendar.first_working_day_from(day + timedelta(days=1))
        start = datetime.combine(day, opening, tzinfo=self.tz)
        return (start + timedelta(minutes=self.rng.randint(0, 150))).astimezone(UTC)

    def waking_hours(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.tz)
        if 7 <= local.hour < 22:
            return moment
        day = local.date() + (timedelta(days=1) if local.hour >= 22 else timedelta(0))
        start = datetime.combine(day, time(7, 30), tzinfo=self.tz)
        return (start + timedelta(minutes=self.rng.randint(0, 120))).astimezone(UTC)

    def place_in_time(
        self, steps: list[Step], tail: tuple[float, float], channel: str
    ) -> list[datetime]:
        """Times for the registration and each step, the last one ``tail`` days before the end."""
        earliest = self.end - SPAN
        gaps = [timedelta(days=self.rng.uniform(*s.gap)) for s in steps]
        target = timedelta(days=self.rng.uniform(*tail))
        start = self.end - target - sum(gaps, timedelta(0))
        times: list[datetime] = []
        for _ in range(8):
            start = max(start, earliest)
            times = self._forward(start, steps, gaps, channel)
            actual = self.end - times[-1]
            low, high = timedelta(days=tail[0]), timedelta(days=tail[1])
            if low <= actual <= high or (start == earliest and actual < low):
                break
            start += actual - target
        # Whatever the placement, nothing happens after the end.
        return [t for t in times if t <= self.end - timedelta(minutes=1)] or [
            self.end - timedelta(minutes=30)
        ]

    def _forward(
        self, start: datetime, steps: list[Step], gaps: list[timedelta], channel: str
    ) -> list[datetime]:
        moment = self.waking_hours(start) if channel in ("phone", "online") else start
        if channel in ("visit", "letter", "referral"):
            moment = self.office_hours(moment)
        times = [moment]
        for item, gap in zip(steps, gaps, strict=True):
            moment = moment + gap
            moment = self.waking_hours(moment) if item.urgent else self.office_hours(moment)
            moment = max(moment, times[-1] + timedelta(minutes=5))
            times.append(moment)
        return times

    # -- building the cases ------------------------------------------------------------------
    def choose_place(self) -> Place:
        weights = [
            (14 if p.code == "V001" else 6) if p.code in self.network.caseworkers else 0.25
            for p in self.network.places
        ]
        return self.rng.choices(self.network.places, weights)[0]

    def category_for(self, shape: Shape) -> str:
        rng = self.rng
        if shape.family == "dv":
            return "domestic_violence"
        if shape.family == "minor":
            return rng.choice(["child_protection", "child_protection", "domestic_violence"])
        if shape.family == "settleable":
            return rng.choice(["marriage_family", "property_rights", "neighbour_dispute"])
        if shape.family == "court":
            return rng.choices(
                ["marriage_family", "domestic_violence", "property_rights", "employment"],
                [5, 3, 2, 1],
            )[0]
        return rng.choices(
            [
                "marriage_family",
                "domestic_violence",
                "property_rights",
                "neighbour_dispute",
                "employment",
                "sexual_harassment",
                "other",
            ],
            [30, 12, 14, 14, 8, 4, 6],
        )[0]

    def risk_for(self, shape: Shape, category: str) -> str:
        if shape.risk:
            return self.rng.choice(shape.risk)
        if category in ("domestic_violence", "child_protection", "sexual_harassment"):
            return self.rng.choices(["medium", "high"], [3, 2])[0]
        return self.rng.choices(["low", "medium", "high"], [6, 4, 1])[0]

    def address(self, place: Place) -> str:
        rng = self.rng
        if place.name.endswith("社区"):
            building, unit = rng.randint(1, 30), rng.randint(1, 4)
            where = f"{building}号楼{unit}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
        else:
            where = f"{rng.randint(1, 12)}组{rng.randint(1, 60)}号"
        return f"{place.town_name}{place.name}{where}"

    def build(self, scenario: str) -> Run:
        _, _, shape, builder = next(s for s in SCENARIOS if s[0] == scenario)
        rng, people = self.rng, self.people
        steps, tail = builder(rng)
        place = self.choose_place()
        category = self.category_for(shape)
        risk = self.risk_for(shape, category)
        channels = ["visit", "phone", "online", "referral"] + ([] if shape.urgent else ["letter"])
        channel = rng.choices(channels, [50, 25, 10, 8] + ([] if shape.urgent else [7]))[0]
        times = self.place_in_time(steps, tail, channel)
        steps = steps[: len(times) - 1]
        received_at = times[0]
        if channel == "letter":
            # A paper intake record entered after the letter arrived.
            received_at = times[0] - timedelta(days=self.rng.uniform(1, 3))

        caseworkers = self.network.caseworkers.get(place.code, [])
        volunteers = self.network.volunteers.get(place.code, [])
        town_sup = self.network.town_supervisor[place.town]
        worker = rng.choice(caseworkers) if caseworkers else town_sup
        roll = rng.random()
        if not caseworkers or roll < 0.12:
            registrar = town_sup
        elif volunteers and roll < 0.27:
            registrar = volunteers[0]
        else:
            registrar = worker
        supervisor = town_sup if rng.random() < 0.85 else "district.sup"
        liaison = "court.liaison" if rng.random() < 0.8 else "court.liaison2"

        today = self.end.astimezone(self.tz).date()
        name = people.name()
        phone = people.phone()
        consents = rng.random() < 0.6
        complainant: dict[str, Any] = {
            "name": name,
            "phone": phone,
            "id_number": people.id_number(today, rng.randint(22, 72)),
            "address": self.address(place),
            "is_minor": False,
            "lacks_capacity": False,
            "consents_to_sms": consents,
        }
        if consents:
            safe = category == "domestic_violence" or rng.random() < 0.3
            complainant["safe_phone"] = people.phone() if safe else phone
        relation = rng.choice(RESPONDENTS[category])
        if relation == "employer":
            respondent_name = people.firm()
        elif relation == "village_group":
            respondent_name = f"{place.name}第{rng.randint(1, 9)}村民小组"
        elif relation in ("spouse", "former_spouse", "stepfather", "son", "colleague"):
            respondent_name = people.man()
        else:
            respondent_name = people.name(FEMALE_GIVEN + MALE_GIVEN)
        payload: dict[str, Any] = {
            "channel": channel,
            "received_at": received_at,
            "station": place.code,
            "category": category,
            "risk": risk,
            "complainant": complainant,
            "respondent": {"name": respondent_name, "relation": relation},
            "summary": rng.choice(SUMMARIES[category]),
        }
        if shape.family == "minor":
            incapable = category == "domestic_violence" and rng.random() < 0.5
            payload["victim"] = {
                "name": people.girl(name[0]) if not incapable else people.name(),
                "is_minor": not incapable,
                "lacks_capacity": incapable,
                "relation": rng.choice(["daughter", "granddaughter"])
                if not incapable
                else "sister",
            }
        elif scenario == "minor_found_later":
            payload["victim"] = {"name": people.girl(name[0]), "relation": "daughter"}
        return Run(
            scenario=scenario,
            place=place,
            steps=steps,
            times=times,
            payload=payload,
            registrar=registrar,
            worker=worker,
            supervisor=supervisor,
            liaison=liaison,
            names=[name, respondent_name],
        )

    # -- driving the services --------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.rt.sessions() as session, session.begin():
            yield session

    def load_actors(self) -> None:
        with self.transaction() as session:
            for user in session.scalars(select(User)):
                actor = load_actor(session, user.id)
                if actor is not None:
                    self.actors[user.username] = actor

    def register(self, run: Run) -> None:
        with self.transaction() as session:
            case = case_service.register_case(
                self.rt, session, self.actors[run.registrar], run.payload
            )
            run.case_id, run.version, run.number = case.id, case.version, case.number

    def trigger(self, session: Session, run: Run, who: str, event: str, data: dict) -> None:
        done = case_service.trigger_event(
            self.rt, session, self.actors[who], run.case_id, event, run.version, data
        )
        run.version = done.case.version

    def perform(self, run: Run, item: Step) -> None:
        rng, now = self.rng, self.rt.now()
        today = now.astimezone(self.tz).date()
        rt = self.rt
        with self.transaction() as session:
            action = item.action
            if action == "accept":
                data: dict[str, Any] = {}
                who = run.worker
                registrar = self.actors[run.registrar]
                if registrar.role == "supervisor" and run.registrar != run.worker:
                    # The supervisor who took the call hands it to the station's caseworker.
                    who, data = run.registrar, {"assignee_id": self.actors[run.worker].id}
                self.trigger(session, run, who, "accept", data)
            elif action == "session":
                actions.record_session(
                    rt,
                    session,
                    self.actors[run.worker],
                    run.case_id,
                    now - timedelta(minutes=rng.randint(30, 120)),
                    [*run.names, rng.choice(["村妇代会主任", "人民调解员", "巾帼志愿者"])],
                    rng.choice(SESSION_RESULTS),
                    rng.choice(NOTES),
                )
            elif action == "note":
                writer = run.registrar if run.registrar.endswith(".vol") else run.worker
                actions.add_note(rt, session, self.actors[writer], run.case_id, rng.choice(NOTES))
            elif action == "report":
                actions.record_report(
                    rt,
                    session,
                    self.actors[run.worker],
                    run.case_id,
                    now,
                    rng.choice(REPORT_AGENCIES),
                    f"报备〔{today.year}〕{rng.randint(10, 300)}号",
                )
            elif action == "update_minor":
                case = actions.update_case(
                    rt,
                    session,
                    self.actors[run.worker],
                    run.case_id,
                    run.version,
                    {"victim": {"is_minor": True}},
                )
                run.version = case.version
            elif action == "suspend":
                actions.suspend_clock(
                    rt,
                    session,
                    self.actors[run.supervisor],
                    run.case_id,
                    item.option("clock"),
                    rng.choice(["等待伤情鉴定结果", "申请人外出务工，暂时联系不上"]),
                )
            elif action == "resume":
                actions.resume_clock(
                    rt,
                    session,
                    self.actors[run.supervisor],
                    run.case_id,
                    item.option("clock"),
                    None,
                )
            elif action == "follow_up":
                actions.record_follow_up(
                    rt,
                    session,
                    self.actors[run.worker],
                    run.case_id,
                    now,
                    rng.choice(
                        ["协议履行良好，家庭关系缓和", "申请人表示满意", "对方基本履行，继续关注"]
                    ),
                )
            else:
                self.transition(session, run, item, today)

    def transition(self, session: Session, run: Run, item: Step, today: date) -> None:
        rng, action = self.rng, item.action
        if action == "settle":
            self.trigger(
                session,
                run,
                run.worker,
                "settle",
                {
                    "agreement": rng.choice(AGREEMENTS),
                    "mediation_body": f"{run.place.name}人民调解委员会",
                },
            )
        elif action == "close_unresolved":
            self.trigger(
                session,
                run,
                run.worker,
                "close_unresolved",
                {
                    "reason": "经多次调解，双方分歧较大，未能达成协议",
                    "advice": "已告知申请人可向人民法院起诉，并可申请法律援助",
                },
            )
        elif action == "decline":
            self.trigger(
                session,
                run,
                run.supervisor,
                "decline",
                {
                    "reason": "不属于妇联维权受理范围，已告知有关部门",
                    "redirect_to": rng.choice(REDIRECTS),
                },
            )
        elif action == "withdraw":
            self.trigger(
                session,
                run,
                run.worker,
                "withdraw",
                {"reason": "申请人表示矛盾已自行化解，撤回申请"},
            )
        elif action == "extend":
            self.trigger(
                session,
                run,
                run.supervisor,
                "extend",
                {"days": item.option("days"), "reason": "需等待村民小组会议讨论，经批准延长"},
            )
        elif action == "reopen":
            self.trigger(
                session,
                run,
                run.supervisor,
                "reopen",
                {"reason": "被申请人未履行调解协议，申请人再次求助"},
            )
        elif action == "refer":
            self.trigger(session, run, run.worker, "refer", self.referral(run, item.option("kind")))
        elif action == "acknowledge":
            kind = self.referral_kind(session, run)
            self.dockets[kind] += rng.randint(1, 6)
            word = {
                "litigation": "民初",
                "protection_order": "民保令",
                "judicial_confirmation": "民特",
            }
            run.urgent_court = bool(item.option("urgent_court"))
            self.trigger(
                session,
                run,
                run.liaison,
                "acknowledge",
                {
                    "docket_number": f"（{today.year}）示0102{word[kind]}{self.dockets[kind]}号",
                    "urgent": run.urgent_court,
                },
            )
        elif action == "return":
            self.trigger(
                session,
                run,
                run.liaison,
                "return",
                {"reason": "证据材料不全，建议先行调解并补充材料"},
            )
        elif action == "rule":
            outcome = item.option("outcome")
            data: dict[str, Any] = {"outcome": outcome}
            if outcome == "granted":
                data["expires_on"] = add_months(today, rng.choice([3, 6]))
                data["note"] = "禁止被申请人殴打、威胁、骚扰、跟踪申请人"
            else:
                data["note"] = "现有证据不足以证明存在家庭暴力或现实危险"
            self.trigger(session, run, run.liaison, "rule", data)
        elif action == "decide":
            kind = self.referral_kind(session, run)
            outcome = (
                rng.choices(["confirmed", "not_confirmed"], [5, 1])[0]
                if kind == "judicial_confirmation"
                else rng.choice(["judgment", "court_mediation", "withdrawn"])
            )
            self.trigger(session, run, run.liaison, "decide", {"outcome": outcome})
        else:
            raise ValueError(f"unknown demo action {action}")

    def referral(self, run: Run, kind: str) -> dict[str, Any]:
        if kind == "protection_order":
            return {
                "kind": kind,
                "summary": "申请人遭受家庭暴力，面临现实危险，申请人身安全保护令",
                "applicant": self.rng.choice(["victim", "federation_on_behalf"]),
            }
        if kind == "judicial_confirmation":
            return {"kind": kind, "summary": "双方达成调解协议，共同申请司法确认"}
        return {
            "kind": kind,
            "summary": "调解不成，申请人要求起诉，协助立案并申请法律援助",
            "mediation_declined": self.rng.random() < 0.2,
        }

    @staticmethod
    def referral_kind(session: Session, run: Run) -> str:
        kind = session.scalar(select(Case.referral_kind).where(Case.id == run.case_id))
        return kind or "litigation"

    # -- the walk through time ---------------------------------------------------------------
    def drive(self, runs: list[Run], finish: Callable[[], datetime]) -> None:
        agenda: list[tuple[datetime, int, int, int]] = []
        for index, run in enumerate(runs):
            for position, moment in enumerate(run.times):
                heapq.heappush(agenda, (moment, index, position, len(agenda)))
        start = min(moment for moment, *_ in agenda) if agenda else self.end
        next_sweep = start
        while agenda:
            moment, index, position, _ = heapq.heappop(agenda)
            while next_sweep <= moment:
                self.clock.set(next_sweep)
                sweep_service.sweep(self.rt)
                next_sweep += SWEEP_EVERY
            self.clock.set(moment)
            run = runs[index]
            if run.done:
                continue
            if position == 0:
                self.register(run)
                continue
            item = run.steps[position - 1]
            try:
                self.perform(run, item)
            except CarnationError as refusal:
                # A refusal is the product's answer (a rule the plan did not foresee): keep
                # the case where it stands and say so, rather than abandon the whole demo.
                run.done = True
                self.refused.append(f"{run.number} {item.action}: {refusal.code} {refusal.message}")
        end = finish()
        while next_sweep <= end:
            self.clock.set(next_sweep)
            sweep_service.sweep(self.rt)
            next_sweep += SWEEP_EVERY
        self.clock.set(end)
        sweep_service.sweep(self.rt)


def demo_present(session: Session) -> bool:
    return session.scalar(select(Station.id).where(Station.code == DISTRICT[0])) is not None


def load_demo(
    rt: Runtime,
    *,
    cases: int = DEFAULT_CASES,
    villages: int = DEFAULT_VILLAGES,
    towns: int = DEFAULT_TOWNS,
    password: str = DEFAULT_PASSWORD,
    seed: int = DEFAULT_SEED,
    end: datetime | None = None,
) -> DemoSummary:
    """Make the demo network and its cases, unless station D01 is there already.

    ``rt.clock`` must be a `MovableClock`: it is set back about ninety days and walked
    forward to ``end`` (default: the wall clock when the work is done), sweeping every few
    hours on the way. Cases are generated from ``seed``.
    """
    clock = rt.clock
    if not isinstance(clock, MovableClock):
        raise TypeError("load_demo moves the clock: bootstrap the runtime with a MovableClock")
    with rt.sessions() as session, session.begin():
        present = demo_present(session)
        other = session.scalar(select(Station.id).limit(1)) is not None
    # Outside that transaction: on SQLite every transaction takes the write lock.
    if present:
        return summarize(rt, created=False)
    if other:
        raise DemoRefused(
            "the database already holds stations but no demo district D01: "
            "demo data goes only into an empty database"
        )
    if cases < 0:
        raise ValueError("cases: zero or more")
    finish: Callable[[], datetime] = (
        (lambda: end) if end is not None else (lambda: datetime.now(UTC))
    )
    target = (end or datetime.now(UTC)).astimezone(UTC)
    rng = random.Random(seed)
    network = plan_network(rng, villages, towns)
    with rt.sessions() as session:
        calendar = rt.calendar(session)
    loader = DemoLoader(rt, clock, network, rng, target, calendar)
    runs = [loader.build(name) for name in _shuffled(rng, allocate(cases))]
    first = min((run.times[0] for run in runs), default=target)
    clock.set(min(first, target - SPAN) - timedelta(hours=1))
    _create_network(rt, network, password, loader.people)
    loader.load_actors()
    loader.drive(runs, finish)
    summary = summarize(rt, created=True)
    summary.refused = loader.refused
    return summary


def _shuffled(rng: random.Random, names: list[str]) -> list[str]:
    names = list(names)
    rng.shuffle(names)
    return names


def _create_network(rt: Runtime, network: Network, password: str, people: People) -> None:
    shared_hash = hash_password(password)  # argon2 is slow on purpose: hash once
    with rt.sessions() as session, session.begin():
        rt.active_workflow(session)
        for code, name, kind, parent in network.stations:
            admin.create_station(session, code, name, kind, parent)
        for spec in network.users:
            admin.create_user(
                session,
                rt,
                spec.username,
                spec.role,
                spec.station,
                password,
                email=f"{spec.username}@{EMAIL_DOMAIN}" if spec.email else None,
                phone=people.phone() if spec.phone else None,
                language=spec.language,
                password_hash=shared_hash,
            )


def summarize(rt: Runtime, *, created: bool) -> DemoSummary:
    now = rt.now()
    with rt.sessions() as session:
        stations = dict(
            session.execute(select(Station.kind, func.count()).group_by(Station.kind)).all()
        )
        users = dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())
        by_state = dict(
            session.execute(select(Case.state, func.count()).group_by(Case.state)).all()
        )
        overdue_clock = exists().where(
            ClockInstance.case_id == Case.id,
            ClockInstance.stopped_at.is_(None),
            or_(
                ClockInstance.status == "breached",
                and_(ClockInstance.status == "running", ClockInstance.due_at <= now),
            ),
        )
        overdue = session.scalar(select(func.count()).select_from(Case).where(overdue_clock))
        escalated = session.scalar(
            select(func.count(func.distinct(EscalationStep.case_id))).where(
                EscalationStep.step != "reminder"
            )
        )
        pending = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        )
        rows = session.execute(
            select(User, Station).join(Station, Station.id == User.station_id).order_by(User.id)
        ).all()
        logins = [
            Login(u.username, u.role, s.code, s.name, u.email, u.language)
            for u, s in rows
            if u.active
        ]
    logins.sort(key=lambda login: ROLE_ORDER.index(login.role) if login.role in ROLE_ORDER else 9)
    return DemoSummary(
        created=created,
        stations={kind: stations.get(kind, 0) for kind in ("district", "town", "village", "court")},
        users={role: users.get(role, 0) for role in ROLE_ORDER},
        states={state: by_state.get(state, 0) for state in STATES},
        overdue=overdue or 0,
        escalated=escalated or 0,
        pending_outbox=pending or 0,
        logins=logins,
    )
