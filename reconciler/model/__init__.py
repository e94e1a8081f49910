"""The values every layer shares: what the manifests declare (`desired`), what the account holds
(`live`: typed objects parsed once at the read), what this set owns in it (`ownership`), what
would change and what happened (`changes`), and our marker in a stream's `client_entity_data`
(`marker`). No I/O here."""
