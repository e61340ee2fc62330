"""PodSecurity admission: the Pod Security Standards enforced, warned about and audited
per namespace by its ``pod-security.kubernetes.io/*`` labels — kube's
k8s.io/pod-security-admission (``admission/admission.go``), checks in ``checks``."""
