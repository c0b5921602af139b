"""One reader per section of the stack's settings: raw config in, typed settings out, problems named.

Each reader takes a `Section` (which records every wrong key with what it allows) and returns that
section's typed settings; cross-key rules of the section are checked there too. `infra.settings.load_settings`
composes them.
"""
