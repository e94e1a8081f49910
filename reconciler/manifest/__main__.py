"""`python -m reconciler.manifest` prints the manifest JSON Schema (for editors)."""

from reconciler.manifest.schema import main

main()
