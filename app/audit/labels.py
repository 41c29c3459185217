"""Plain-English labels for the audit trail's codes, for the privacy officer and for citizens."""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    "auth.login": "Signed in",
    "auth.login_failed": "Failed to sign in",
    "auth.logout": "Signed out",
    "auth.step_up": "Confirmed it was them with their security key",
    "auth.enrolment_code_used": "Used an enrolment code",
    "auth.enrolment_failed": "Failed to use an enrolment code",
    "auth.key_added": "Added a security key",
    "auth.key_renamed": "Renamed a security key",
    "auth.key_revoked": "Removed a security key",
    "auth.key_refused": "Security key refused",
    "auth.counter_regression": "Security key disabled: it may have been copied",
    "practitioner.created": "Account created",
    "practitioner.code_reissued": "New enrolment code issued",
    "practitioner.revoked": "Account revoked",
    "alert.raised": "Alert raised",
    "retention.deleted": "Record deleted under the retention rules",
    "retention.run": "Retention run finished",
    "consent.invited": "Invitation to decide about keeping the record after 18 made",
    "consent.letters_printed": "Invitation letters printed",
    "consent.letters_sent": "Invitation letters marked as sent",
    "consent.viewed": "The young person looked at their record",
    "consent.code_failed": "Wrong consent or withdrawal code",
    "consent.locked": "Consent or withdrawal code locked after 5 wrong tries",
    "consent.shortened": "The young person shortened how long the record is kept",
    "consent.reissued": "New invitation letter made",
    "alert.acknowledged": "Alert acknowledged",
    "alert.escalated": "Alert escalated",
    "audit.search": "Searched the audit trail",
    "audit.alerts_viewed": "Looked at the alert queue",
    "record.search": "Searched for a child",
    "quota.exceeded": "Went over a search or view quota",
    "record.result_returned": "Record shown in search results",
    "record.view": "Opened the record",
    "record.break_glass": "Overrode shielding (break glass)",
    "practitioner.child_protection_changed": "Child-protection permission changed",
    "involvement.add": "Recorded their involvement",
    "involvement.end": "Ended their involvement",
    "api_client.registered": "Registered a case-management system to use the API",
    "api_client.rotated": "Gave a case-management system a new API secret",
    "api_client.revoked": "Revoked a case-management system's API access",
    "audit.checkpoints_superseded": "Backup restored: checkpoints of rows it lacks set aside",
    "api.refused": "API call refused: the practitioner named may not use this client",
    "on_behalf.started": "Started searching on behalf of someone without Signpost access",
    "on_behalf.ended": "Stopped searching on behalf of someone else",
    "consent.given": "The young person agreed to keep the record after 18",
    "consent.refused": "The young person chose to have the record deleted at 18",
    "consent.withdrawn": "The young person withdrew their consent to keep the record",
    "sar.received": "Subject access request received",
    "sar.queue_viewed": "Looked at the subject access requests",
    "sar.viewed": "Looked at a subject access request",
    "sar.candidate_shown": "Record shown as a possible match for a subject access request",
    "sar.matched": "Subject access request matched to the record",
    "sar.no_match": "No record found for a subject access request",
    "sar.identity_verified": "Recorded how the requester's identity was checked",
    "sar.competence_recorded": "Recorded whether the child agrees to a parent's request",
    "sar.extended": "Subject access deadline extended",
    "sar.paused": "Subject access request paused for clarification",
    "sar.resumed": "Subject access request restarted after clarification",
    "sar.released": "Subject access response released",
    "sar.refused": "Subject access request answered without the response",
    "sar.code_reissued": "New subject access response code issued",
    "sar.entry_withheld": "Access entry withheld from subject access",
    "sar.entry_released": "Access entry no longer withheld",
    "sar.pack_viewed": "Subject access response read",
    "sar.code_failed": "Wrong subject access response code",
    "sar.code_expired": "Expired subject access response code",
    "sar.locked": "Subject access response locked after wrong codes",
    "disclosure.match_refused": "Police disclosure request stopped: the details matched no single record",
    "disclosure.drafted": "Police disclosure request prepared",
    "disclosure.requested": "Police disclosure request made",
    "disclosure.request_viewed": "Police disclosure request looked at by the approver",
    "disclosure.approved": "Police disclosure request approved",
    "disclosure.refused": "Police disclosure request refused",
    "disclosure.revoked": "Police access to the record ended early",
    "disclosure.record_viewed": "Record opened by the police under an approved disclosure",
    "disclosure.exemption_recorded": "Police disclosure kept out of subject access until a review date",
    "disclosure.exemption_lifted": "Police disclosure no longer kept out of subject access",
    "disclosure.withdrawn": "Police disclosure request withdrawn before it was sent",
    "disclosure.lapsed": "Police disclosure request not sent within a day",
    "feed.imported": "Source feed imported",
    "feed.rejected": "Source feed rejected: nothing imported",
    "feed.record_created": "Record created from a source feed",
    "feed.record_updated": "Record updated from a source feed",
    "feed.record_moved": "Record moved from another local authority by a source feed",
    "feed.row_queued": "Source feed row sent to the review queue",
    "feed.review_viewed": "Looked at a source feed row and its possible records",
    "feed.review_merged": "Source feed row merged into the record",
    "feed.review_created": "Record created from a reviewed source feed row",
    "feed.review_rejected": "Source feed row rejected after review",
    "record.merged": "Duplicate record merged into this one",
    "record.merged_away": "Record merged into another and removed",
    "record.corrected": "Record corrected by the local Signpost team",
    "record.team_viewed": "Opened by the local Signpost team to correct it or change its shielding",
    "record.shielded": "Record shielded",
    "record.shielding_changed": "Shielding review date or reason changed",
    "record.unshielded": "Shielding lifted",
    "shielding.reviews_viewed": "Looked at the shielded records due for review",
}

#: Why a practitioner opens a record: the fixed list they choose from.
VIEW_REASONS: dict[str, str] = {
    "safeguarding_concern": "Safeguarding concern",
    "new_to_caseload": "New to my caseload",
    "arranging_service": "Arranging a service",
    "contacting_professionals": "Contacting other professionals",
    "assessment": "Assessment",
}

#: Why the local Signpost team corrected a record (app/feeds/corrections.py).
CORRECTION_REASONS: dict[str, str] = {
    "rectification_request": "The child, young person or a parent asked for it to be put right",
    "source_error": "The source that sent it got it wrong",
    "change_of_name": "The child's name has changed",
    "change_of_address": "The child or a carer has moved",
    "verified_with_family": "Checked with the family",
}

#: Every reason an audit row may carry: the practitioners' list, a police disclosure, and the
#: reasons for a correction.
REASON_LABELS: dict[str, str] = {
    **VIEW_REASONS,
    "police_disclosure": "Police exceptional disclosure request",
    **CORRECTION_REASONS,
}

OUTCOME_LABELS: dict[str, str] = {
    "success": "Done",
    "refused": "Refused",
    "failed": "Failed",
    "no_match": "No match",
    "too_many": "Too many matches",
}

_ACTOR_LABELS = {
    "citizen": "Citizen page",
    "system": "Signpost",
    "operator": "Operator (command line)",
    "anonymous": "Someone not signed in",
    "practitioner": "Practitioner in another authority",
}


def actor_label(kind: str) -> str:
    return _ACTOR_LABELS.get(kind, kind)
