"""Records in and out of Signpost: source feeds, matching, the review queue, corrections and
shielding (docs/feeds.md)."""
