"""The FL Alliance protocol's arithmetic as plain functions: roles, round decisions, rewards, slashes.

A pure reference model of contracts/FLTask.sol (no web3, no I/O). The contract is the authority; this
package mirrors it so property tests can check the contract against an independent statement of the
rules, and so simulations and the operator can predict outcomes without a chain.
"""
