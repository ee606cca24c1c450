"""Test-wide settings: offline hub, a private cache dir for built models and cached features."""

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("PROMPTOPT_CACHE", tempfile.mkdtemp(prefix="promptopt-test-cache-"))
