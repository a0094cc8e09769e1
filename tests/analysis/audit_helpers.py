"""The one-domain scheme and the one-act catalogue that the audit's tests run (a module of its
own, not conftest.py: `from conftest import` finds whichever conftest pytest loaded last)."""

from __future__ import annotations

from scslab.behaviour.model import Catalogue

#: one event, one sanction in the same domain (finance): arrears cost points, a low score bars loans
ONE_DOMAIN = """
id: one-domain
name: One event, one sanction, one domain
subject: individuals
description: arrears cost points; a low score bars loans
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -100, domain: finance, source: paper}
sanctions:
  - id: no-loans
    trigger: {score_below: 900}
    domain: finance
    effect: no bank loans
    source: paper
"""


def one_act(false_ratio: float) -> Catalogue:
    """Payment arrears (finance, unlawful, rate 0.5), recorded by the bank channel with the given
    false-record ratio."""
    return Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "payment-arrears",
                    "name": "arrears",
                    "domain": "finance",
                    "lawful": False,
                    "rate": 0.5,
                    "channels": {"bank": 1.0},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "bank", "name": "bank", "false_record_ratio": false_ratio, "assumed": True}
            ],
        }
    )
