"""`flalliance-worker`: the entrypoint of every worker Job (pioneer, train, validate, reveal, claim).

Every command reads the chain first and does nothing twice: re-running it after a crash never
double-submits. Exit codes: 0 done (or nothing left to do), 1 retryable failure, 2 permanent failure.
"""
