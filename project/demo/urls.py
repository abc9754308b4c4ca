from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.home, name="home"),
    path("documents/", views.documents, name="documents"),
    path("documents/new/", views.describe, name="describe"),
    path("versions/<int:version_id>/download", views.download, name="download"),
    path("login/", auth_views.LoginView.as_view(template_name="demo/welcome.html",
                                                next_page="/"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
]
