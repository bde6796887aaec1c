"""Shared fixtures: the real data set, the shipped model, the real app with its lifespan running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from training.data import FashionMNIST, load_fashion_mnist


@pytest.fixture(scope="session")
def dataset() -> FashionMNIST:
    """The real Fashion-MNIST files (never downloaded in tests; missing data is a failure, not a skip)."""
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The real app serving the shipped model, lifespan running."""
    with TestClient(create_app(Settings())) as test_client:
        yield test_client
