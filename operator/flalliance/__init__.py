"""flalliance: run FLock-style FL Alliance federated-learning tasks on Kubernetes.

The task contract on-chain is the single authority (roles, phases, votes, money); this package holds
pure functions (FL math, protocol arithmetic, the operator's decisions) and thin adapters around them
(web3, the Kubernetes API, the artifact store, kopf).
"""

__version__ = "0.1.0"
