"""What a webhook's body says: `{"type", "timestamp", "data"}`, with `data` in the endpoint's format.

`generic` is the lead as salesbot keeps it. `hubspot` shapes it as contact and deal properties (HubSpot's
CRM v3 objects API) and `salesforce` as Lead object fields, so a rep's CRM takes it with little glue.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from models import OutboxEvent

FORMATS = ("generic", "hubspot", "salesforce")


def body(event: OutboxEvent, fmt: str) -> str:
    """The exact text signed and sent (compact JSON)."""
    shaped = {"generic": _generic, "hubspot": _hubspot, "salesforce": _salesforce}[fmt](event.data)
    payload = {"type": event.type, "timestamp": _iso(event.created_at), "data": shaped}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _generic(data: dict[str, Any]) -> dict[str, Any]:
    return data


def _lead(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("lead", data)


def _names(fields: dict[str, Any]) -> tuple[str | None, str | None]:
    full = (fields.get("name") or "").split()
    return (full[0], " ".join(full[1:]) or None) if full else (None, None)


def _hubspot(data: dict[str, Any]) -> dict[str, Any]:
    lead = _lead(data)
    fields = lead.get("fields", {})
    first, last = _names(fields)
    budget, timeline = fields.get("budget") or {}, fields.get("timeline") or {}
    contact = {
        "email": fields.get("email"),
        "firstname": first,
        "lastname": last,
        "company": fields.get("company"),
        "phone": fields.get("phone"),
        "jobtitle": (fields.get("authority") or {}).get("role"),
        "hs_lead_status": {"qualified": "OPEN_DEAL", "disqualified": "UNQUALIFIED"}.get(lead.get("status"), "NEW"),
        "salesbot_score": lead.get("score"),
        "salesbot_lead_id": lead.get("lead_id"),
    }
    deal = {
        "dealname": f"{fields.get('company') or first or 'Lead'}: {(fields.get('need') or {}).get('text', '')}"[:200],
        "amount": budget.get("amount"),
        "deal_currency_code": budget.get("currency"),
        "closedate": timeline.get("due_date"),
        "description": lead.get("transcript_summary"),
    }
    return {
        "event": data if "lead" not in data else {k: v for k, v in data.items() if k != "lead"},
        "contact": {"properties": _present(contact)},
        "deal": {"properties": _present(deal)},
    }


def _salesforce(data: dict[str, Any]) -> dict[str, Any]:
    lead = _lead(data)
    fields = lead.get("fields", {})
    first, last = _names(fields)
    size = fields.get("company_size") or {}
    record = {
        "FirstName": first,
        "LastName": last or "(unknown)",  # required by Salesforce
        "Company": fields.get("company") or "(unknown)",  # required by Salesforce
        "Email": fields.get("email"),
        "Phone": fields.get("phone"),
        "Title": (fields.get("authority") or {}).get("role"),
        "NumberOfEmployees": size.get("max"),
        "LeadSource": "salesbot",
        "Status": {"qualified": "Working - Contacted", "disqualified": "Closed - Not Converted"}.get(
            lead.get("status"), "Open - Not Contacted"
        ),
        "Rating": "Hot" if (lead.get("score") or 0) >= 80 else "Warm" if (lead.get("score") or 0) >= 50 else "Cold",
        "Description": lead.get("transcript_summary"),
        "Salesbot_Lead_Id__c": lead.get("lead_id"),
        "Salesbot_Score__c": lead.get("score"),
        "Salesbot_Budget__c": (fields.get("budget") or {}).get("amount"),
        "Salesbot_Timeline__c": (fields.get("timeline") or {}).get("due_date"),
    }
    return {"Lead": _present(record), "event": {k: v for k, v in data.items() if k != "lead"}}


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
