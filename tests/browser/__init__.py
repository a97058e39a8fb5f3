"""Tests in a real browser (the system Chromium, driven by Playwright)."""

QUESTION = "What is the trimodal methodology in Atlas?"
