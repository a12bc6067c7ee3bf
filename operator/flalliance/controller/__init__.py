"""The operator: a pure decision core (`plan`) and a thin kopf shell around it.

`views` describes what the operator observes (chain, custom resources, Jobs), `actions` what it may do,
`plan` maps one to the other, `jobs` renders Job manifests and `status` derives the resources' status.
"""
