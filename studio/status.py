"""A training job's status: the one place its values are defined (the jobs table, the
runner's state.json and the studio page all use these)."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"  # waiting for the one job slot
    RUNNING = "running"
    STOPPING = "stopping"  # SIGTERM sent; SIGKILL if it does not end in time
    STOPPED = "stopped"  # by the user: resumable
    INTERRUPTED = "interrupted"  # the runner died (killed, power loss): resumable
    FAILED = "failed"  # a stage exited non-zero: resumable after a fix
    FINISHED = "finished"  # a model version was registered


ACTIVE = (JobStatus.RUNNING, JobStatus.STOPPING)
RESUMABLE = (JobStatus.STOPPED, JobStatus.INTERRUPTED, JobStatus.FAILED)
