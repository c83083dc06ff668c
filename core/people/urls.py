from django.urls import path

from core.people import views

urlpatterns = [
    path("people/", views.people, name="people"),
    path("people/invite/", views.people_invite, name="people-invite"),
    path("people/create/", views.people_create, name="people-create"),
    path("people/unlock/", views.people_unlock, name="people-unlock"),
    path("people/<int:pk>/role/", views.people_role, name="people-role"),
    path("people/<int:pk>/active/", views.people_active, name="people-active"),
    path("people/invitations/<int:pk>/revoke/", views.invitation_revoke, name="people-invitation-revoke"),
    path("invite/<str:key>/", views.invite_accept, name="invite-accept"),
    path("account/tokens/", views.account_tokens, name="account-tokens"),
    path("account/tokens/revoke-all/", views.account_tokens_revoke_all, name="account-tokens-revoke-all"),
    path("account/tokens/<int:pk>/revoke/", views.account_token_revoke, name="account-token-revoke"),
    path("account/password/", views.AccountPasswordChangeView.as_view(), name="account-password"),
]
