"""The browsable API's sign-in and sign-out, under the names DRF links to."""

from django.urls import path

from accounts import browser

app_name = "rest_framework"  # DRF's templates reverse rest_framework:login/logout

urlpatterns = [
    path("login", browser.sign_in_view, name="login"),
    path("logout", browser.sign_out_view, name="logout"),
]
