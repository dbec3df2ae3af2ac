"""A local, in-memory simulator of the few Kubernetes API endpoints the portal uses. SIMULATED: not a real cluster.

No real API server can run here, so tests drive the official `kubernetes` client over real HTTPS against this, and
the local demo can run on it; real `kubectl` works with the kubeconfig it writes. It serves /version and the health
paths, discovery, apps/v1 deployments (scale and status subresources, watch), replicasets and daemonsets, core/v1
nodes, pods (eviction, logs), services, events and namespaces, policy/v1 poddisruptionbudgets, metrics.k8s.io for
`kubectl top`, and `kubectl get`'s tables. See `cluster` for the API rules and the controllers, `patching` for what
each patch type supports, `tls`, `discovery`, `tables`, `logs` and `metrics` for those parts, and `seed` for test and
demo data. No Django in here.
"""

from portal.kubesim.cluster import ApiError, Cluster, ManualClock
from portal.kubesim.server import Simulator

__all__ = ["ApiError", "Cluster", "ManualClock", "Simulator"]
