from accounts import views
from api.routing import api_path

urlpatterns = [
    api_path("auth/register", views.RegisterView.as_view(), name="register"),
    api_path("auth/login", views.LoginView.as_view(), name="login"),
    api_path("auth/refresh", views.RefreshView.as_view(), name="refresh"),
    api_path("auth/logout", views.LogoutView.as_view(), name="logout"),
    api_path("auth/me", views.MeView.as_view(), name="me"),
    api_path("auth/password", views.PasswordView.as_view(), name="password"),
    api_path("auth/mfa/setup", views.MfaSetupView.as_view(), name="mfa-setup"),
    api_path("auth/mfa/enable", views.MfaEnableView.as_view(), name="mfa-enable"),
    api_path("auth/mfa/disable", views.MfaDisableView.as_view(), name="mfa-disable"),
    api_path("auth/mfa/verify", views.MfaVerifyView.as_view(), name="mfa-verify"),
    api_path("users", views.StaffListView.as_view(), name="users"),
    api_path("users/(?P<user_id>[^/]+)", views.StaffDetailView.as_view(), name="user"),
]
