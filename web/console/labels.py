"""What the console calls the workflow's names (states, events, fields, clocks…), per language.

Names unknown here (a federation's own workflow) are shown as they are spelled in the
definition: the console never refuses to show something because it lacks a label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

STATES = {
    "intake": _l("Awaiting acceptance"),
    "mediation": _l("In mediation"),
    "referred": _l("Referred to court"),
    "court": _l("With the court panel"),
    "closed": _l("Closed"),
}
CHANNELS = {
    "visit": _l("Visit"),
    "phone": _l("Phone call"),
    "letter": _l("Letter"),
    "online": _l("Online"),
    "referral": _l("Agency referral"),
}
CATEGORIES = {
    "domestic_violence": _l("Domestic violence"),
    "marriage_family": _l("Marriage and family"),
    "property_rights": _l("Property rights"),
    "employment": _l("Employment"),
    "child_protection": _l("Child protection"),
    "sexual_harassment": _l("Sexual harassment"),
    "neighbour_dispute": _l("Neighbour dispute"),
    "other": _l("Other"),
}
RISKS = {
    "low": _l("Low"),
    "medium": _l("Medium"),
    "high": _l("High"),
    "emergency": _l("Emergency"),
}
ROLES = {
    "caseworker": _l("Caseworker"),
    "volunteer": _l("Volunteer"),
    "supervisor": _l("Supervisor"),
    "court_liaison": _l("Court liaison"),
    "admin": _l("Administrator"),
}
STATION_KINDS = {
    "district": _l("District"),
    "town": _l("Town / subdistrict"),
    "village": _l("Village / community"),
    "court": _l("Court panel"),
}
EVENTS = {
    "accept": _l("Accept"),
    "decline": _l("Decline"),
    "refer": _l("Refer to the court panel"),
    "settle": _l("Settle (mediation agreement)"),
    "close_unresolved": _l("Close without settlement"),
    "extend": _l("Extend the handling period"),
    "acknowledge": _l("Acknowledge the referral"),
    "return": _l("Return the referral"),
    "rule": _l("Rule on the protection order"),
    "decide": _l("Decide"),
    "withdraw": _l("Withdraw"),
    "reopen": _l("Reopen"),
}
# Timeline entries: the events above and the actions beside the workflow.
TIMELINE = {
    **EVENTS,
    "registered": _l("Registered"),
    "note": _l("Note"),
    "assign": _l("Assigned"),
    "record_session": _l("Mediation session"),
    "update": _l("Reassessed"),
    "transfer": _l("Transferred"),
    "follow_up": _l("Follow-up visit"),
    "report_filed": _l("Mandatory report filed"),
    "suspend_clock": _l("Clock suspended"),
    "resume_clock": _l("Clock resumed"),
    "deadline_breached": _l("Deadline missed"),
    "escalated": _l("Escalated"),
    "reminded": _l("Reminder sent"),
    "deadline_recomputed": _l("Deadline recomputed"),
}
FIELDS = {
    "assignee_id": _l("Assignee"),
    "reason": _l("Reason"),
    "redirect_to": _l("Redirected to (agency)"),
    "kind": _l("Kind of referral"),
    "summary": _l("Summary for the panel"),
    "panel": _l("Court panel"),
    "mediation_declined": _l("The complainant declined mediation"),
    "applicant": _l("Applicant"),
    "agreement": _l("Agreement"),
    "effective_on": _l("Agreement takes effect on"),
    "mediation_body": _l("Mediation body"),
    "advice": _l("Remedies the complainant was told of"),
    "days": _l("Days"),
    "docket_number": _l("Docket number"),
    "urgent": _l("The court found the matter urgent"),
    "outcome": _l("Outcome"),
    "note": _l("Note"),
    "expires_on": _l("Order expires on"),
    "occurred_at": _l("When it happened"),
    "text": _l("Note"),
    "held_at": _l("Held at"),
    "participants": _l("Participants"),
    "result": _l("Result"),
    "notes": _l("Notes"),
    "contacted_at": _l("Contacted at"),
    "filed_at": _l("Filed at"),
    "agency": _l("Agency reported to"),
    "reference": _l("Reference"),
    "station": _l("Station"),
    "version": _l("Case version"),
    "clock": _l("Clock"),
    "risk": _l("Risk"),
    "category": _l("Category"),
    "channel": _l("Channel"),
    "received_at": _l("Received at"),
    "victim": _l("Victim"),
    "from_station": _l("From station"),
    "to_station": _l("To station"),
    "previous_assignee_id": _l("Previous assignee"),
    "session": _l("Session number"),
    "from": _l("From"),
    "to": _l("To"),
    "due_at": _l("Due"),
    "step": _l("Step"),
    "level": _l("Level"),
    "by": _l("By"),
    "victim_name": _l("Victim's name"),
}
ENUM_VALUES = {
    "litigation": _l("Litigation"),
    "protection_order": _l("Personal safety protection order"),
    "judicial_confirmation": _l("Judicial confirmation of a mediation agreement"),
    "victim": _l("The victim"),
    "federation_on_behalf": _l("The federation on her behalf"),
    "granted": _l("Granted"),
    "denied": _l("Denied"),
    "confirmed": _l("Confirmed"),
    "not_confirmed": _l("Not confirmed"),
    "judgment": _l("Judgment"),
    "court_mediation": _l("Court mediation"),
    "withdrawn": _l("Withdrawn"),
    "awaiting": _l("Awaiting acknowledgement"),
    "acknowledged": _l("Acknowledged"),
    "returned": _l("Returned"),
    "ruled": _l("Ruled"),
    "decided": _l("Decided"),
    "rest": _l("Rest day"),
    "work": _l("Working day"),
    "official": _l("Official schedule"),
    "provisional": _l("Provisional (not yet published)"),
    "reminder": _l("Reminder"),
    "level1": _l("Level 1"),
    "level2": _l("Level 2"),
    "level3": _l("Level 3"),
    "emergency": _l("Emergency"),
    "calendar": _l("calendar corrected"),
    "reassessment": _l("reassessment"),
}
CLOCKS = {
    "acceptance": _l("Acceptance decision"),
    "resolution": _l("Resolution"),
    "acknowledgement": _l("Court acknowledgement"),
    "protection_order_decision": _l("Protection order decision"),
    "court_outcome": _l("Court outcome"),
    "order_expiry": _l("Protection order expiry"),
    "follow_up": _l("Follow-up visit"),
    "mandatory_report": _l("Mandatory report"),
}
CLOCK_STATUS = {
    "running": _l("Running"),
    "suspended": _l("Suspended"),
    "met": _l("Met"),
    "breached": _l("Missed"),
    "stopped": _l("Stopped"),
}
UNITS = {
    "days": _l("days"),
    "working_days": _l("working days"),
    "hours": _l("hours"),
    "months": _l("months"),
}
GUARDS = {
    "assignee_scope": _l(
        "The assignee must be a caseworker of the case's station or a supervisor at or above it."
    ),
    "session_required": _l(
        "Record a mediation session first (not needed for high or emergency risk, domestic "
        "violence, or when the complainant declined mediation)."
    ),
    "kind_not_allowed_from_state": _l(
        "From a closed case only a judicial confirmation may be referred."
    ),
    "judicial_confirmation_window": _l(
        "Judicial confirmation needs a case settled by mediation whose agreement took effect "
        "at most 30 days ago."
    ),
    "extend_once": _l("The handling period may be extended only once."),
    "extend_before_deadline": _l("The handling period can no longer be extended: it has passed."),
    "outcome_fits_kind": _l("This outcome does not fit the kind of referral."),
    "reopen_window": _l("A case can be reopened only within 90 days of its closure."),
    "reopen_not_binding": _l("A case closed by a binding court outcome cannot be reopened."),
}
PERSON_FIELDS = {
    "name": _l("Name"),
    "phone": _l("Phone"),
    "id_number": _l("ID number"),
    "address": _l("Address"),
    "safe_phone": _l("Safe phone number"),
    "is_minor": _l("Minor"),
    "lacks_capacity": _l("Lacks legal capacity"),
    "consents_to_sms": _l("Agrees to text messages"),
    "relation": _l("Relation"),
}
# Relations are free text; these common spellings get a label, anything else shows as typed.
RELATIONS = {
    "spouse": _l("Spouse"),
    "former_spouse": _l("Former spouse"),
    "mother_in_law": _l("Mother-in-law"),
    "in_laws": _l("In-laws"),
    "village_group": _l("Village group"),
    "employer": _l("Employer"),
    "stepfather": _l("Stepfather"),
    "relative": _l("Relative"),
    "colleague": _l("Colleague"),
    "neighbour": _l("Neighbour"),
    "son": _l("Son"),
    "daughter": _l("Daughter"),
    "granddaughter": _l("Granddaughter"),
}
WORK = {
    "notify": _l("Notification"),
    "referral_package": _l("Referral package"),
    "sms_complainant": _l("Text message to the complainant"),
}


def label(table: Mapping[str, Any], name: Any) -> str:
    """The label of ``name`` in ``table``, or the name itself."""
    if name is None:
        return ""
    found = table.get(str(name))
    return str(found) if found is not None else str(name)


def choices(table: Mapping[str, Any], names: Any = None) -> list[tuple[str, str]]:
    """(value, label) pairs for a select, in the table's order or the given one."""
    return [(name, label(table, name)) for name in (names if names is not None else table)]
