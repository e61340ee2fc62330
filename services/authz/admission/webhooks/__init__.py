"""Admission webhooks: configurations (``configuration``), calls (``caller``) and the
two plugins (``dispatch``: MutatingAdmissionWebhook, ValidatingAdmissionWebhook)."""
