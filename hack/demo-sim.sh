#!/usr/bin/env bash
# `make demo-sim`: one federated task end to end without Kubernetes (the embedded default), then a summary read from the chain.
#
# The default: digits (scikit-learn's offline copy), an MLP, 8 participants (half proposers each round) with a Dirichlet(0.5) label
# skew, 5 rounds, one label-flipping participant; a fresh anvil, the real contracts, one `flalliance-worker
# participate` process per participant (roles from the chain), per-proposal payouts. Output in .state/demo/:
# report.json, accuracy.png, payouts.png. Override with DEMO_ARGS="--participants 10 --rounds 10 ...".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=.state/demo-sim
rm -rf "$out"
mkdir -p "$out"
# shellcheck disable=SC2086
.venv/bin/flalliance simulate --preset digits-mlp --participants 8 --rounds 5 --seed 7 \
  --proposer-fraction-bps 5000 --malicious label_flip:1 --out "$out" ${DEMO_ARGS:-}
.venv/bin/python - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
fml = lambda wei: f"{wei / 1e18:,.2f}"
print()
print("== demo summary (read from the chain) ==")
print(f"task {r['task']} on chain {r['chain_id']}: {s['rounds']} rounds, {s['rounds_accepted']} accepted")
pct = lambda v: "n/a" if v is None else f"{v:.1%}"
print(f"global accuracy on the held-out set: {pct(r.get('initial_accuracy'))} initial -> "
      f"{pct(s.get('final_accuracy'))} final (centralized upper bound {pct(r.get('centralized_accuracy'))})")
print(f"malicious proposals rejected: {s['malicious_rejected']:.0%} of {s['malicious_proposals']}; "
      f"honest proposals rejected: {s['honest_rejected']:.0%} of {s['honest_proposals']}")
print(f"{'participant':<12} {'behaviour':<11} {'rewards':>10} {'slashes':>9} {'net FML':>9}")
for o in r["outcomes"]:
    print(f"{o['label']:<12} {o['behaviour']:<11} {fml(o['rewarded']):>10} {fml(o['slashed']):>9} {fml(o['net']):>9}")
PY
echo "plots: $out/accuracy.png $out/payouts.png"
