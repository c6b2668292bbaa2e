"""flagscan's one Settings class: every environment variable the API, the workers and the CLI read.

It lives in ``workers`` because workers never import ``service``; ``service.config`` re-exports it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.hub_api import HubSettings


class Settings(BaseSettings):
    """Configuration from the environment (and an optional ``.env``). Secrets have no defaults and are never logged."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore", case_sensitive=True)

    # Redis and the queue
    FLAGSCAN_REDIS_URL: str | None = Field(None, description="Shared Redis; unset means `serve` embeds one.")
    FLAGSCAN_KEY_PREFIX: str = Field("flagscan:", description="Prefix of every Redis key (isolates deployments).")
    FLAGSCAN_QUEUE: str = Field("scans", description="RQ queue name.")
    FLAGSCAN_DATA_DIR: Path = Field(Path.home() / ".local/share/flagscan", description="Embedded Redis data dir.")
    FLAGSCAN_WORKERS: int = Field(1, ge=0, le=64, description="Worker processes `serve` starts in embedded mode.")
    FLAGSCAN_JOB_HEARTBEAT_S: int = Field(30, ge=1, description="How often a busy worker proves it is alive.")
    FLAGSCAN_MAINTENANCE_S: int = Field(60, ge=1, description="How often workers re-queue jobs of dead workers.")

    # The Hub
    HF_ENDPOINT: str = Field("https://huggingface.co", description="Hub base URL, as huggingface_hub reads it.")
    HF_TOKEN: SecretStr | None = Field(None, description="Hub token for gated or private models.")
    FLAGSCAN_HUB_CONCURRENCY: int = Field(8, ge=1, le=64, description="Parallel range requests per scan.")
    FLAGSCAN_HUB_MAX_RETRIES: int = Field(4, ge=0, le=10, description="Retries on connection errors, 429 and 5xx.")
    FLAGSCAN_HUB_TIMEOUT_S: float = Field(30.0, gt=0, description="Per-request read timeout.")

    # Compute
    FLAGSCAN_DEVICE: Literal["auto", "cpu", "cuda"] = Field("auto", description="Worker compute device.")
    FLAGSCAN_TORCH_THREADS: int | None = Field(None, ge=1, description="torch CPU threads per worker.")

    # Limits
    FLAGSCAN_MAX_MODEL_BYTES: int = Field(2 * 1024**4, ge=1, description="Larger checkpoints fail with too_large.")
    FLAGSCAN_MAX_BODY_BYTES: int = Field(16 * 1024, ge=256, description="Largest accepted request body.")
    FLAGSCAN_JOB_TIMEOUT_BASE_S: int = Field(600, ge=10, description="Job timeout for an empty model.")
    FLAGSCAN_JOB_TIMEOUT_S_PER_GB: int = Field(300, ge=1, description="Extra job timeout per GB of weights.")
    FLAGSCAN_JOB_RETRIES: int = Field(2, ge=0, le=10, description="Retries of a job after a transient error.")

    # Lifetimes
    FLAGSCAN_REPORT_TTL_S: int = Field(30 * 24 * 3600, ge=60, description="How long reports stay cached.")
    FLAGSCAN_REVISION_TTL_S: int = Field(300, ge=1, description="How long a branch → sha resolution is trusted.")

    # API
    FLAGSCAN_API_KEYS: SecretStr | None = Field(
        None, description="Comma-separated API keys; when set, POST/DELETE need one and private reports follow it."
    )
    FLAGSCAN_HOST: str = Field("127.0.0.1", description="`serve` bind address.")
    FLAGSCAN_PORT: int = Field(8000, ge=1, le=65535, description="`serve` port.")

    def hub(self) -> HubSettings:
        """Connection settings for weight sources."""
        return HubSettings(
            endpoint=self.HF_ENDPOINT.rstrip("/"),
            token=self.HF_TOKEN.get_secret_value() if self.HF_TOKEN else None,
            concurrency=self.FLAGSCAN_HUB_CONCURRENCY,
            max_retries=self.FLAGSCAN_HUB_MAX_RETRIES,
            timeout_s=self.FLAGSCAN_HUB_TIMEOUT_S,
        )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
