"""The values every layer shares: what the manifests declare (`desired`), what the account holds
(`live`), what would change and what happened (`changes`), and our marker in a stream's
`client_entity_data` (`marker`). No I/O here."""
