"""The web3 adapter: contract artifacts, a typed chain client, decoded reverts, an event reader, a dev chain.

Sub-modules are imported explicitly (``from flalliance.chain.client import ChainClient``); this package
module stays empty so importing one piece never pulls in web3 for the others.
"""
