"""Notification texts in the recipient's language: the case number, what happened, a link.

Never personal data: no names, phones, addresses or free texts reach a message.
"""

from __future__ import annotations

EVENT_TEXT = {
    "zh": {
        "accept": "已受理，进入调解",
        "decline": "不予受理",
        "refer": "已转介至妇女维权合议庭，请签收",
        "settle": "调解成功，已结案",
        "close_unresolved": "调解未成，已结案",
        "extend": "办理期限已延长",
        "acknowledge": "合议庭已签收转介",
        "return": "合议庭已退回转介",
        "rule": "合议庭已就人身安全保护令作出裁定",
        "decide": "合议庭已作出处理结果",
        "withdraw": "已撤回",
        "reopen": "已重新启动办理",
        "emergency": "紧急案件登记，请立即关注",
    },
    "en": {
        "accept": "accepted; mediation has begun",
        "decline": "declined",
        "refer": "referred to the women's rights panel: please acknowledge",
        "settle": "settled by mediation and closed",
        "close_unresolved": "closed without settlement",
        "extend": "handling period extended",
        "acknowledge": "the court panel acknowledged the referral",
        "return": "the court panel returned the referral",
        "rule": "the court panel ruled on the protection order",
        "decide": "the court panel decided the case",
        "withdraw": "withdrawn",
        "reopen": "reopened",
        "emergency": "emergency registration: please attend at once",
    },
}

CLOCK_TEXT = {
    "zh": {
        "acceptance": "受理决定期限",
        "resolution": "办结期限",
        "acknowledgement": "转介签收期限",
        "protection_order_decision": "保护令裁定期限",
        "court_outcome": "法院处理期限",
        "order_expiry": "保护令有效期",
        "follow_up": "回访期限",
        "mandatory_report": "强制报告期限",
    },
    "en": {
        "acceptance": "acceptance deadline",
        "resolution": "resolution deadline",
        "acknowledgement": "acknowledgement deadline",
        "protection_order_decision": "protection order decision deadline",
        "court_outcome": "court outcome deadline",
        "order_expiry": "protection order expiry",
        "follow_up": "follow-up deadline",
        "mandatory_report": "mandatory report deadline",
    },
}

STEP_TEXT = {
    "zh": {
        "reminder": "{clock}即将到期（{due}）",
        "level1": "{clock}已逾期（{due}），一级督办",
        "level2": "{clock}逾期未办（{due}），二级督办",
        "level3": "{clock}严重逾期（{due}），三级督办",
    },
    "en": {
        "reminder": "{clock} is near ({due})",
        "level1": "{clock} passed ({due}): escalation level 1",
        "level2": "{clock} passed ({due}): escalation level 2",
        "level3": "{clock} passed ({due}): escalation level 3",
    },
}

PREFIX = {"zh": "案件 {number}：", "en": "Case {number}: "}


def _language(language: str | None) -> str:
    return language if language in EVENT_TEXT else "zh"


def event_message(language: str | None, number: str, event: str) -> str:
    lang = _language(language)
    what = EVENT_TEXT[lang].get(event, event)
    return PREFIX[lang].format(number=number) + what


def step_message(language: str | None, number: str, clock: str, step: str, due_local: str) -> str:
    lang = _language(language)
    clock_name = CLOCK_TEXT[lang].get(clock, clock)
    return PREFIX[lang].format(number=number) + STEP_TEXT[lang][step].format(
        clock=clock_name, due=due_local
    )


def email_subject(language: str | None, number: str) -> str:
    return ("康乃馨维权服务：案件 " if _language(language) == "zh" else "Carnation: case ") + number
