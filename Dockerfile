# syntax=docker/dockerfile:1
#
# s4e-secret-agent image: an init container or sidecar that delivers Vault secrets into a pod.
#
# Stage 1 builds wheels: the agent's own and one for every dependency. The final stage installs
# them offline into a virtualenv, reading them through a bind mount so that no wheel, compiler
# or source file ends up in a layer. The result runs as a numeric non-root user and writes
# nothing outside /vault/secrets and /tmp, so it works with readOnlyRootFilesystem.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY s4e_secret_agent ./s4e_secret_agent
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="s4e-secret-agent" \
      org.opencontainers.image.description="Delivers HashiCorp Vault and OpenBao secrets into Kubernetes pods as an init container or sidecar; Vault Agent compatible." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

# The virtualenv has no pip of its own: the base image's pip installs into it from outside.
# --no-index: only the wheels built above, nothing fetched here. Bytecode is compiled now, once,
# because the root filesystem is read-only at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/s4e-secret-agent \
    && python -m pip --python /opt/s4e-secret-agent/bin/python install --no-index \
        --find-links=/wheels /wheels/s4e_secret_agent-*.whl \
    && python -m compileall -q -j 0 /opt/s4e-secret-agent \
    && /opt/s4e-secret-agent/bin/s4e-secret-agent version

# /vault/secrets is the default output directory; group 0 with group write lets platforms that
# assign a random UID (OpenShift) write there too, as long as the volume is mounted over it.
RUN mkdir -p /vault/secrets \
    && chown 10001:0 /vault/secrets \
    && chmod 2770 /vault/secrets

ENV PATH=/opt/s4e-secret-agent/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp

USER 10001:10001
WORKDIR /tmp

EXPOSE 9102

# Exec form: the agent is PID 1 and receives SIGTERM itself (it installs its own handlers).
ENTRYPOINT ["s4e-secret-agent"]
CMD ["sidecar"]
