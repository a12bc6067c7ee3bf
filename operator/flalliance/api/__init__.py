"""The Kubernetes API of flalliance: `FLTask` and `Participant` in group `flalliance.io`, version `v1alpha1`.

The pydantic models here are the single source of truth: the CRDs under `crds/`, the Helm values schema
and `docs/configuration.md` are generated from them (`make crds`).
"""

GROUP = "flalliance.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
