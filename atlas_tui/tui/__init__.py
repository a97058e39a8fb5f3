"""The Textual app. Imports only the public client (`atlas_tui.query`), config, errors and types."""
