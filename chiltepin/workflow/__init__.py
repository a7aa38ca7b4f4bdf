"""Parsl DAGs over chiltepin's sites: :class:`Workflow` and the task decorators."""

from chiltepin.workflow.apps import bash_task, mpi_task, python_task
from chiltepin.workflow.workflow import Workflow

__all__ = ["Workflow", "bash_task", "mpi_task", "python_task"]
