"""The domain: the facts every layer shares and none owns (a validated encounter, the code systems, the
error catalogue, how unsure a set of suggestions is). It imports nothing else from chartcoder."""
