"""Placeholder package: see README's roadmap (issues 5 and 6)."""
