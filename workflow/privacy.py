"""How personal data are shown until revealed: the masks of workflow.md, "Privacy"."""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_number(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    if len(id_number) < 3:
        return "*" * len(id_number)
    return id_number[0] + "*" * (len(id_number) - 2) + id_number[-1]


def mask_address(address: str | None) -> str | None:
    return None if address is None else "******"


def mask_text(text: str | None) -> str | None:
    """Free texts are hidden whole: a fragment of a statement can identify a person."""
    return None if text is None else "******"


PERSON_MASKS = {
    "name": mask_name,
    "phone": mask_phone,
    "safe_phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
}


def mask_person(person: dict | None) -> dict | None:
    """Mask the identifying fields of a complainant, victim or respondent record."""
    if person is None:
        return None
    return {
        key: PERSON_MASKS[key](value) if key in PERSON_MASKS else value
        for key, value in person.items()
    }
