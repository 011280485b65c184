"""Pure builders: every Kubernetes object (and LKE argument set) the stack applies, as plain data.

No Pulumi here: ``ops render`` prints exactly what ``components.resources`` registers.
"""
