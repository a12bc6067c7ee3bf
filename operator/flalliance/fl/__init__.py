"""Federated-learning engine: training-logic spec and hash, datasets, private split, partitioners, models,
aggregation rules, validation/scoring and safetensors model exchange.

Pure code over numpy/torch: no web3, no Kubernetes. Sub-modules are imported explicitly
(``flalliance.fl.spec`` …) so that importing the package itself stays cheap and never loads torch.
"""
