"""Generators of the documentation's reference pages.

``python -m docs.gen`` (from the repository root) regenerates every generated page; each
generator module also has ``render()`` so the test suite can compare without writing.
"""
