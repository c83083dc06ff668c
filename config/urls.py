from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("config.api_urls")),
    path("", include("core.urls")),
    path("", include("core.people.urls")),
    path("", include("curation.urls")),
    path("", include("training.urls")),
    path("", include("inference.urls")),
]
