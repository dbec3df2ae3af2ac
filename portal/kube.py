"""The one adapter through which the portal talks to Kubernetes.

Configuration is loaded once per (kubeconfig, context); every call passes a request timeout and returns plain
data, never client models. Call it from Celery tasks or health checks, never inside a database transaction.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from kubernetes import client, config


class KubernetesNotConfigured(Exception):
    pass


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    platform: str


@lru_cache(maxsize=8)
def _api_client(config_file: str, context: str | None) -> client.ApiClient:
    return config.new_client_from_config(config_file=config_file, context=context, persist_config=False)


def api_client() -> client.ApiClient:
    if not settings.KUBECONFIG:
        raise KubernetesNotConfigured("KUBECONFIG is not set.")
    return _api_client(settings.KUBECONFIG, settings.KUBE_CONTEXT)


def server_version() -> ServerVersion:
    info = client.VersionApi(api_client()).get_code(_request_timeout=settings.KUBE_REQUEST_TIMEOUT)
    return ServerVersion(git_version=info.git_version, platform=info.platform)
