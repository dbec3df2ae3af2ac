from typing import Any

from django.core.paginator import InvalidPage, Paginator
from django.db.models import Model, QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core.pagination import COUNT_CAP, CappedPaginator


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's page numbers, with `count` bounded (see CappedPaginator): past COUNT_CAP rows after the page's start,
    `count` is a lower bound and `count_capped` is true. `next` is exact either way; `page=last` counts exactly.
    A view with a `read_page(page_queryset) -> list` reads the page's rows its own way; the count stays on the queryset
    as filtered, which no joins or columns of the page's read slow down."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: QuerySet[Model], request: Request, view: APIView | None = None) -> list:  # type: ignore[override]
        page_size = self.get_page_size(request)
        if not page_size:
            return None  # type: ignore[return-value]
        number = request.query_params.get(self.page_query_param) or 1
        if number in self.last_page_strings:
            paginator: Paginator = Paginator(queryset, page_size)
            number = paginator.num_pages
        else:
            paginator = CappedPaginator(queryset, page_size, number=number)
        try:
            self.page = paginator.page(number)
        except InvalidPage as exc:
            raise NotFound(self.invalid_page_message.format(page_number=number, message=str(exc))) from exc
        self.request = request
        read = getattr(view, "read_page", list)
        return read(self.page.object_list)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({
            "count": self.page.paginator.count,
            "count_capped": bool(getattr(self.page.paginator, "capped", False)),
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })  # fmt: skip

    def get_paginated_response_schema(self, schema: dict) -> dict:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"]["description"] = (
            f"Rows in the list; when `count_capped` is true, a lower bound (counted up to {COUNT_CAP} rows past this "
            "page's start)."
        )
        described["properties"]["count_capped"] = {
            "type": "boolean",
            "description": "True when there are more rows than `count` says: follow `next` to reach them.",
        }
        described["required"] = [*described.get("required", []), "count_capped"]
        return described
