# syntax=docker/dockerfile:1
# Multi-stage build: a slim API image without torch, and a GPU worker image with it.
#   docker build --target api -t flagscan-api .
#   docker build --target worker -t flagscan-worker .

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers

# The API: FastAPI, the RQ client and huggingface_hub only; `service` needs no deep-learning framework.
FROM base AS api
RUN pip install . && useradd --create-home flagscan
USER flagscan
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["flagscan", "serve", "--host", "0.0.0.0", "--port", "8000"]

# The worker: torch with CUDA from PyPI (override TORCH_SPEC for a CPU-only build).
FROM base AS worker
ARG TORCH_SPEC="torch>=2.3,<2.15"
RUN pip install "${TORCH_SPEC}" && pip install ".[worker]" && useradd --create-home flagscan
USER flagscan
ENV FLAGSCAN_DEVICE=auto
CMD ["flagscan", "worker"]
