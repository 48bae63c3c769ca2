from accounts import recovery_views, staff_views, views
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
    api_path(
        "auth/mfa/recovery-codes",
        views.RecoveryCodesView.as_view(),
        name="mfa-recovery-codes",
    ),
    api_path(
        "auth/email/verify",
        recovery_views.VerifyEmailView.as_view(),
        name="email-verify",
    ),
    api_path(
        "auth/email/verification",
        recovery_views.SendVerificationView.as_view(),
        name="email-verification",
    ),
    api_path(
        "auth/password/forgot",
        recovery_views.ForgotPasswordView.as_view(),
        name="password-forgot",
    ),
    api_path(
        "auth/password/reset/code",
        recovery_views.ResetCodeView.as_view(),
        name="password-reset-code",
    ),
    api_path(
        "auth/password/reset",
        recovery_views.ResetPasswordView.as_view(),
        name="password-reset",
    ),
    api_path("auth/phone", recovery_views.PhoneView.as_view(), name="phone"),
    api_path(
        "auth/phone/verify",
        recovery_views.VerifyPhoneView.as_view(),
        name="phone-verify",
    ),
    api_path(
        "auth/invitations/accept",
        staff_views.AcceptInvitationView.as_view(),
        name="invitation-accept",
    ),
    api_path("users", staff_views.StaffListView.as_view(), name="users"),
    api_path(
        "users/invitations",
        staff_views.InvitationListView.as_view(),
        name="invitations",
    ),
    api_path(
        "users/invitations/(?P<invitation_id>[^/]+)/resend",
        staff_views.InvitationResendView.as_view(),
        name="invitation-resend",
    ),
    api_path(
        "users/invitations/(?P<invitation_id>[^/]+)",
        staff_views.InvitationDetailView.as_view(),
        name="invitation",
    ),
    api_path(
        "users/(?P<user_id>[^/]+)", staff_views.StaffDetailView.as_view(), name="user"
    ),
]
