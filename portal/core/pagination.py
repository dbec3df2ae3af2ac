from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50


def paginate(request: HttpRequest, queryset: QuerySet[Model], *, per_page: int = PAGE_SIZE) -> tuple[Page, str]:
    """The requested page of `queryset` (an out-of-range page gives the last), and the request's query string without
    `page`, for the pager's links (templates/components/pagination.html)."""
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
