"""The Gcore Streaming API client (`client.StreamingClient`) and the `protocol.StreamingAPI` that
the rest of the package depends on. The only importer of httpx besides the simulator; knows
nothing of manifests, plans or the command line."""
