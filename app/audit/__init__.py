"""The tamper-evident audit trail, its signed checkpoints, and the privacy officer's review."""
