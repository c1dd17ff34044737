"""The domain: the facts every layer shares and none owns (a validated encounter, the code systems, the
error catalogue, how unsure a set of suggestions is, roles and what each may do). It imports nothing else
from chartcoder."""
