"""A request becomes a plan (notebooks 04, 05): the plan type and its ABC spellings (`core`), the rules reader (`rules`).

The grammar that makes a plan binding is cm_lib.generate.plan_grammar; how answers obey requests, cm_lib.metrics.request.
"""

from cm_lib.plan.core import Plan, make_plan, parse_plan_text, plan_layout, plan_skeleton, plan_text
from cm_lib.plan.rules import record_plan, rules_plan

__all__ = ["Plan", "make_plan", "parse_plan_text", "plan_layout", "plan_skeleton", "plan_text", "record_plan",
           "rules_plan"]
