"""Staging settings, validated once at the edge.

Defaults are the safe ones: checksum sync (an unchanged file is not copied again),
checksum verification (a corrupted copy is detected and retried by the service), source
errors skipped by the service so one missing file does not stop a thousand others, but
every skipped item reported as failed, and a deadline (a transfer never runs forever).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StagingOptions(BaseModel):
    """How ``Stager`` moves data. Field names are the ``Stager(...)`` keyword arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_items_per_task: int = Field(
        10_000, ge=1, le=1_000_000, description="Transfer items per task before a new task"
    )
    sync_level: Literal["exists", "size", "mtime", "checksum"] | None = Field(
        "checksum", description="skip files already at the destination by this comparison"
    )
    verify_checksum: bool = Field(True, description="verify every copied file's checksum")
    skip_source_errors: bool = Field(
        True,
        description="let Transfer go on past a missing/unreadable source (each such item is"
        " still reported as failed)",
    )
    preserve_timestamp: bool = Field(
        False,
        description="give copied files their source's modification time (Transfer only), for"
        " tools that decide what to redo by file times",
    )
    encrypt_data: bool = Field(
        False,
        description="encrypt data on the wire (Transfer only); collections that require it"
        " refuse unencrypted transfers, and it costs throughput elsewhere",
    )
    default_deadline_s: float = Field(
        6 * 3600, gt=0, description="deadline of a stage/delete call when none is given"
    )
    service_grace_s: float = Field(
        300,
        ge=0,
        description="Transfer's own deadline is ours plus this: if this process dies the"
        " service still stops the task",
    )
    poll_interval_s: float = Field(0.2, gt=0, le=60, description="first task status poll")
    max_poll_interval_s: float = Field(10.0, gt=0, le=600, description="slowest status poll")
    label: str = Field(
        "chiltepin staging",
        max_length=128,
        description="label of the Transfer tasks, which is how they show in the Globus web"
        " app's activity list",
    )
    local_workers: int | None = Field(
        None, ge=1, le=64, description="threads of the local copier (default: 2 per core, <= 8)"
    )
    checksum_algorithm: Literal["crc32", "sha256", "sha1", "blake2b", "md5"] = Field(
        "crc32", description="local copier verification checksum (see staging.checksums)"
    )
    durability: Literal["batch", "file", "none"] = Field(
        "batch",
        description="local copier: flush data before renaming into place, once per batch"
        " (syncfs) or per file (fsync); 'none' leaves it to the OS",
    )
    auto_consent: bool = Field(
        True,
        description="with client credentials, fetch data_access consent and retry once on"
        " ConsentRequired (no prompt is involved)",
    )
