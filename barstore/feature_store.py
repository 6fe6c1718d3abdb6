"""Opening the Feast feature store of a workspace (feature_repo/ with the home's registry and online store).

Feast is imported here, lazily, so that the CLI stays fast."""

from __future__ import annotations

import os

from .errors import BarstoreError
from .home import Workspace

ONLINE_STORES = ("sqlite", "redis")


def repo_dir(ws: Workspace):
    return ws.project_dir / "feature_repo"


def open_store(ws: Workspace, online: str = "sqlite"):
    """A FeatureStore over feature_repo/ whose registry, online store and warehouse live in ws.home."""
    if online not in ONLINE_STORES:
        raise BarstoreError(f"unknown online store {online!r}; use one of {', '.join(ONLINE_STORES)}")
    if online == "redis" and not os.environ.get("BARSTORE_REDIS"):
        raise BarstoreError("the Redis online store needs BARSTORE_REDIS=host:port (e.g. 127.0.0.1:6379)")
    os.environ["BARSTORE_HOME"] = str(ws.home)  # feature_store.yaml expands it
    (ws.home / "feast").mkdir(parents=True, exist_ok=True)
    from feast import FeatureStore

    yaml = "feature_store.yaml" if online == "sqlite" else "feature_store.redis.yaml"
    return FeatureStore(repo_path=str(repo_dir(ws)), fs_yaml_file=repo_dir(ws) / yaml)


def apply(ws: Workspace, online: str = "sqlite") -> list[str]:
    """Register feature_repo/'s objects (what `feast apply` does); returns their names."""
    import importlib.util

    store = open_store(ws, online)
    spec = importlib.util.spec_from_file_location("barstore_feature_repo", repo_dir(ws) / "definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    objects = [
        module.symbol,
        *module.feature_views.values(),
        *module.window_views.values(),
        *module.feature_services.values(),
    ]
    store.apply(objects)
    return [o.name for o in objects]
