from collections.abc import Callable, Sequence
from functools import cached_property

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50
# How many rows past the start of the page asked for a list counts. An exact COUNT(*) reads every matching row: at
# 100,000 incidents it cost more than the page itself. Past this, a count is a lower bound ("1,000+ entries").
COUNT_CAP = 1000
# Past any table's size, and below what PostgreSQL's OFFSET (a bigint) and SQLite's integers hold: a page that starts
# further out is empty without asking the database.
MAX_OFFSET = 2**62


class CappedPaginator(Paginator):
    """A Paginator that counts at most COUNT_CAP rows past the start of page `number` (one bounded COUNT over a
    LIMIT subquery); `capped` says the count is a lower bound. Pages after it are still reachable: each counts from
    its own start."""

    def __init__(self, object_list: QuerySet[Model] | Sequence[object], per_page: int, *, number: object = 1) -> None:
        super().__init__(object_list, per_page)
        try:
            self._start = max(int(str(number)) - 1, 0) * int(per_page)
        except ValueError:
            self._start = 0
        self._capped = False

    @cached_property
    def count(self) -> int:
        if self._start > MAX_OFFSET:
            return 0  # so the page is out of range: the API's 404, the pages' last page
        cap = max(COUNT_CAP, int(self.per_page))
        window = self.object_list[self._start : self._start + cap + 1]
        found = window.count() if isinstance(window, QuerySet) else len(window)  # some lists are built in Python
        self._capped = found > cap
        return self._start + min(found, cap)

    @property
    def capped(self) -> bool:
        return bool(self.count) and self._capped


def paginate(
    request: HttpRequest,
    queryset: QuerySet[Model],
    *,
    per_page: int = PAGE_SIZE,
    read: Callable[[QuerySet[Model]], Sequence[object]] | None = None,
) -> tuple[Page, str]:
    """The requested page of `queryset` (an out-of-range page gives the last), and the request's query string without
    `page`, for the pager's links (templates/components/pagination.html). `read` reads the page's slice its own way
    (as the API's `read_page`): the count stays on `queryset`, which none of the read's joins or columns slow down."""
    number = request.GET.get("page") or 1
    try:
        page = CappedPaginator(queryset, per_page, number=number).page(number)
    except PageNotAnInteger:
        page = CappedPaginator(queryset, per_page).page(1)
    except EmptyPage:  # past the end: the last page, which only an exact count finds
        page = Paginator(queryset, per_page).get_page(number)
    if read is not None:
        page.object_list = read(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
