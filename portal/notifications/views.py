from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.accounts.permissions import role_required
from portal.accounts.roles import Role
from portal.core.pagination import paginate
from portal.errors import ApplicationError
from portal.notifications.filters import DeliveryFilter
from portal.notifications.models import Delivery
from portal.notifications.selectors import deliveries, delivery_table_rows
from portal.notifications.services import delivery_retry


@require_GET
@vary_on_headers("HX-Request")
def delivery_list(request: HttpRequest) -> HttpResponse:
    found = DeliveryFilter(request.GET, queryset=deliveries())
    page, query = paginate(request, found.qs, read=delivery_table_rows)
    template = "notifications/delivery_list.html#delivery-table" if request.htmx else "notifications/delivery_list.html"
    return render(request, template, {"filter": found, "page": page, "query": query})


@require_POST
@role_required(Role.RESPONDER)
def delivery_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery, pk=pk)
    error = ""
    try:
        delivery = delivery_retry(delivery=delivery, actor=request.user)
    except ApplicationError as exc:
        error = exc.message
    if request.htmx:
        context = {"row": delivery_table_rows(Delivery.objects.filter(pk=delivery.pk))[0], "error": error,
                   "is_responder": True}  # fmt: skip
        return render(request, "notifications/delivery_list.html#delivery-row", context, status=409 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Delivery {delivery.pk} queued again.")
    return redirect(request.headers.get("Referer") or "delivery-list")
