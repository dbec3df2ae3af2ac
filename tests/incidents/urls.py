"""The portal's routes plus a stand-in for the incident page, which `incident_declare` links notifications to.

The incidents UI adds the real `incident-detail` route; once portal/urls.py has it, delete this module and the
`pytest.mark.urls("tests.incidents.urls")` marks that use it.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def incident_page(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"incident {pk}")


urlpatterns = [*portal_urlpatterns, path("incidents/<int:pk>/", incident_page, name="incident-detail")]
