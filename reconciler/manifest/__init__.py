"""YAML manifests -> `DesiredState`; every problem reported as `path:line: field: message`."""

from reconciler.manifest.loader import load_manifests
from reconciler.manifest.schema import manifest_json_schema

__all__ = ["load_manifests", "manifest_json_schema"]
