"""Practitioners record and end their own involvement with a child, and hear about each other."""
