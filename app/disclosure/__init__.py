"""Police exceptional disclosure: one child, one case, decided by someone else, limited in time."""
