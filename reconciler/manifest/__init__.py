"""YAML manifests -> `DesiredState`; every problem reported as `path:line: field: message`."""

from reconciler.manifest.loader import Checked, check_manifests, load_manifests
from reconciler.manifest.schema import manifest_json_schema

__all__ = ["Checked", "check_manifests", "load_manifests", "manifest_json_schema"]
