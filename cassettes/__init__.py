"""Recorded API responses (vcrpy cassettes), shipped inside igresearch as igresearch.bundled."""
