"""Where a source checkout keeps what the package reads: each path named once."""

from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CONFIG_DIR: Final = REPO_ROOT / "config"
DEPLOY_DIR: Final = REPO_ROOT / "deploy"
THRESHOLDS_FILE: Final = "thresholds.yaml"
TAXONOMY_FILE: Final = "policy_areas.yaml"
KAFKA_FILE: Final = "kafka.yaml"
