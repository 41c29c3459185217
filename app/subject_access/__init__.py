"""Subject access (UK GDPR Art. 15): the citizen's request, the privacy officer's queue, the
response pack, and the public figures."""
