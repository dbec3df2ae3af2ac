"""A local, in-memory simulator of the few Kubernetes API endpoints the portal uses. SIMULATED: not a real cluster.

No real API server can run here, so tests drive the official `kubernetes` client over real HTTP against this, and
the local demo can run on it. It serves /version, apps/v1 deployments (with the scale subresource and watch) and
replicasets, core/v1 nodes and pods, and policy/v1 evictions; see `cluster` for the API rules and the controller,
`patching` for what each patch type supports, and `seed` for test and demo data. No Django in here.
"""

from portal.kubesim.cluster import ApiError, Cluster, ManualClock
from portal.kubesim.server import Simulator

__all__ = ["ApiError", "Cluster", "ManualClock", "Simulator"]
