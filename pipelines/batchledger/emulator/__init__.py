"""A together.ai-compatible Batch + Files API emulator for tests and the offline demo.

Follows the wire contract in /work/shared/reference/together-api.md (§2-§5, §9, §10).
"""

from batchledger.emulator.bulk import BulkFile, BulkJob, write_bulk_job, write_bulk_jobs
from batchledger.emulator.demo import DEMO_MODELS, DEMO_NOW, demo_scenario, large_scenario
from batchledger.emulator.emulator import Emulator, serve
from batchledger.emulator.faults import Faults
from batchledger.emulator.scenario import (
    InputLine,
    Scenario,
    ScenarioItem,
    ScenarioJob,
    ScenarioModel,
    plan_job,
)
from batchledger.emulator.server import RequestRecord

__all__ = [
    "DEMO_MODELS",
    "DEMO_NOW",
    "BulkFile",
    "BulkJob",
    "Emulator",
    "Faults",
    "InputLine",
    "RequestRecord",
    "Scenario",
    "ScenarioItem",
    "ScenarioJob",
    "ScenarioModel",
    "demo_scenario",
    "large_scenario",
    "plan_job",
    "serve",
    "write_bulk_job",
    "write_bulk_jobs",
]
