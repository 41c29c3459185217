"""The case-management JSON API under ``/api/v1/`` and the clients that call it."""
