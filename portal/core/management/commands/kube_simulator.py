import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from portal.kubesim import Cluster, Simulator
from portal.kubesim.seed import seed_demo
from portal.kubesim.server import hosts
from portal.kubesim.tls import Certificates


class Command(BaseCommand):
    help = (
        "Serve the SIMULATED Kubernetes API (portal/kubesim, not a real cluster) for the local demo over HTTPS, "
        "and write a kubeconfig pointing at it that kubectl and the portal can use."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--seed",
            choices=["demo"],
            help="demo: broxiva-production (api, web, worker) and broxiva-staging (api, web) on three nodes.",
        )
        parser.add_argument("--kubeconfig", type=Path, default=settings.VAR_DIR / "kubeconfig-sim.yaml")
        parser.add_argument(
            "--tls-dir",
            type=Path,
            default=settings.VAR_DIR / "kubesim-tls",
            help="Where the simulator keeps its CA and serving certificate, so kubeconfigs survive restarts.",
        )
        parser.add_argument(
            "--tick", type=float, default=1.0, help="Seconds between the simulated controllers' passes (default: 1)."
        )

    def handle(
        self,
        *args: object,
        host: str,
        port: int,
        seed: str | None,
        kubeconfig: Path,
        tls_dir: Path,
        tick: float,
        **options: object,
    ) -> None:
        cluster = Cluster()
        if seed == "demo":
            seed_demo(cluster)
        certificates = Certificates.load_or_create(tls_dir, hosts(host))
        with Simulator(cluster, host=host, port=port, tick=tick, certificates=certificates) as simulator:
            path = simulator.write_kubeconfig(kubeconfig)
            self.stdout.write(f"SIMULATED Kubernetes API (not a real cluster) on {simulator.url}")
            self.stdout.write(f"Kubeconfig: {path}  (point the portal at it: KUBECONFIG={path})")
            self.stdout.write(f"kubectl works too: kubectl --kubeconfig {path} get pods -A")
            self.stdout.flush()
            # Ctrl-C or a process manager's SIGTERM stops it. Installed explicitly: a shell starts background jobs
            # with SIGINT ignored, and Python keeps an inherited SIG_IGN.
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            while not stop.wait(0.5):
                pass
            self.stdout.write("Simulator stopped.")
