import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def vectors():
    return json.loads((ROOT / "tests" / "vectors" / "vectors.json").read_text())
