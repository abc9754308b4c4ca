from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("chunked_upload.urls")),
    path("", include("project.demo.urls")),
]
