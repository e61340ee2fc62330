"""A kopf operator that serves admission webhooks for Schedules, run against kapi by the
end-to-end suite (tests/e2e/test_e2e_kopf_webhooks.py).

kopf's ``WebhookServer`` listens on 127.0.0.1 with a self-signed certificate, and kopf
registers its own ValidatingWebhookConfiguration and MutatingWebhookConfiguration
(``settings.admission.managed``) through the API, pointing at that server with the
certificate as their caBundle. kopf makes its self-signed certificate with certbuilder
and oscrypto (its ``dev`` extra, unmaintained since 2016 / 2022); this operator makes the
same certificate (a CA for itself, the address as SAN) with ``cryptography`` and hands it
over as ``certfile``/``pkeyfile``, which kopf then also sends as the caBundle.

- validating: a Schedule whose ``spec.image`` is ``forbidden`` is refused (code 403);
- mutating: every Schedule gets the label ``mutated-by: kopf``.

The group comes from ``OPERATOR_GROUP``, the certificate's directory from
``OPERATOR_CERT_DIR``; the configurations are named after the group.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GROUP = os.environ["OPERATOR_GROUP"]
CERT_DIR = Path(os.environ["OPERATOR_CERT_DIR"])
ADDRESS = "127.0.0.1"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed server certificate for ADDRESS, its own CA (as kopf's
    ``WebhookServer.build_certificate`` makes it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ADDRESS)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ADDRESS))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certfile, pkeyfile = directory / "webhook.crt", directory / "webhook.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkeyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, pkeyfile


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 60
    certfile, pkeyfile = self_signed(CERT_DIR)
    settings.admission.server = kopf.WebhookServer(
        addr=ADDRESS, certfile=str(certfile), pkeyfile=str(pkeyfile)
    )
    settings.admission.managed = f"kopf.{GROUP}"


@kopf.on.validate(GROUP, "v1", "schedules", id="check-image")
def check_image(spec: kopf.Spec, **_: Any) -> None:
    if spec.get("image") == "forbidden":
        raise kopf.AdmissionError("the image 'forbidden' is not allowed", code=403)


@kopf.on.mutate(GROUP, "v1", "schedules", id="label")
def label(patch: kopf.Patch, **_: Any) -> None:
    patch.setdefault("metadata", {}).setdefault("labels", {})["mutated-by"] = "kopf"
