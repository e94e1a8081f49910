"""YAML manifests -> `DesiredState`; every problem reported as `path:line: field: message`.
Reads files only; knows nothing of the API, the account or the planner."""

from reconciler.manifest.loader import Checked, check_manifests, load_manifests
from reconciler.manifest.schema import manifest_json_schema

__all__ = ["Checked", "check_manifests", "load_manifests", "manifest_json_schema"]
