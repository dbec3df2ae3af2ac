"""URLs reversed once per process: `reverse` resolves a name in 50-150 us, which rows of lists and the incident
page's forms and quick actions paid for every link."""

from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse


def reversed_once(view_name: str, *args: object) -> str:
    """`reverse(view_name, args=args)`, kept per process (as long as it is among the 4,096 most recent) for each
    script prefix and URLconf it is asked under."""
    return _reversed(view_name, args, get_script_prefix(), get_urlconf())


@lru_cache(maxsize=4096)
def _reversed(view_name: str, args: tuple[object, ...], _prefix: str, urlconf: str | None) -> str:
    return reverse(view_name, args=args, urlconf=urlconf)
