"""AWS's documented constraints, checked before anything is created: what `pulumi up` would have AWS refuse.

Pulumi's mocks accept any value, and moto checks few. Two kinds of checks are made here:
- **Model constraints** (lengths, patterns, enums, ranges) from botocore's service models, the same
  models the AWS APIs are generated from (model.py), for every declared resource whose inputs map to an API
  member (resources.py).
- **Documented rules** that no model encodes (name formats, cross-field rules, quotas), each with the
  AWS page it comes from (rules.py).

`resources.resource_problems(recording)` checks a recorded program run (the offline plan fails on any
problem); `requests.request_problem(...)` checks one API request (the stand-in AWS refuses it as AWS would).
"""
