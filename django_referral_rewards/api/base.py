"""What every API view shares: JSON in and out, the package's error answers and
idempotency keys, pagination, the OpenAPI schema class, and who may call it.

- :class:`MemberAPIView` (and :class:`MemberListAPIView`): a signed-in member, on their
  own data only. ``?program=<slug>`` (or ``"program"`` in the body of a write) picks
  the program; the default program otherwise.
- :class:`StaffAPIView` (and the generic staff views): active staff holding the model
  permission of the view (``view`` for reads, ``change`` for writes unless a view says
  otherwise).
- Host event views (``events.py``) use :class:`HostKeyAuthentication`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from rest_framework import exceptions, generics, permissions
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..abstract_models import AbstractMember
from ..conf import app_settings
from ..models import Account, Program
from ..permissions import has_staff_permission
from ..services.accounts import get_or_create_account
from .errors import exception_handler
from .idempotency import IdempotencyMixin
from .schema import PackageAutoSchema


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 100; ``REFERRAL_REWARDS_API_PAGE_SIZE``
    by default)."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        self.page_size = app_settings.API_PAGE_SIZE
        return super().get_page_size(request)


class APIMixin(IdempotencyMixin):
    """The package's settings for a DRF view, independent of the host's
    ``REST_FRAMEWORK`` defaults (but for authentication, see
    ``REFERRAL_REWARDS_API_AUTHENTICATION_CLASSES``)."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    pagination_class: type[BasePagination] | None = Pagination
    schema = PackageAutoSchema()

    def get_authenticators(self) -> list[Any]:
        if type(self).authentication_classes is not APIView.authentication_classes:
            # The view names its own (the host event and public endpoints).
            return [cls() for cls in self.authentication_classes]
        paths = app_settings.API_AUTHENTICATION_CLASSES
        if paths is None:
            return [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
        return [import_string(path)() for path in paths]

    def get_exception_handler(self) -> Any:
        return exception_handler


class IsMember(permissions.BasePermission):
    """A signed-in user (whose member is looked up, or created, by the view)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "pk", None) is not None)


class StaffPermission(permissions.BasePermission):
    """Active staff holding ``<action>_<model>`` on the view's ``staff_model``: the
    action is the view's ``staff_action`` for the method (``view`` for safe methods,
    ``change`` otherwise, unless ``staff_actions`` says)."""

    message = "You do not have permission to do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        model = view.staff_model
        action = view.staff_action_for(request)
        return has_staff_permission(request.user, model, action)


class MemberMixin(APIMixin):
    """A member endpoint: ``self.member`` and ``self.account`` (of the program asked
    for) are the signed-in user's own."""

    permission_classes = [IsMember]

    @property
    def member(self) -> AbstractMember:
        found = getattr(self, "_member", None)
        if found is None:
            found = app_settings.member_adapter().get_member(self.request.user, create=True)
            if found is None or not found.active:
                raise exceptions.PermissionDenied(
                    gettext("Your rewards account is closed."), code="member_inactive"
                )
            self._member = found
        return found

    def program_slug(self) -> str | None:
        """The program the request names (``?program=``, or ``program`` in the body of
        a write), or ``None`` for the default."""
        slug = self.request.query_params.get("program")
        if not slug and self.request.method not in permissions.SAFE_METHODS:
            data = self.request.data
            slug = data.get("program") if hasattr(data, "get") else None
        return str(slug) if slug else None

    @property
    def account(self) -> Account:
        """The member's account in the program asked for (created on first use);
        an unknown or inactive program is a 404 ``program_not_found``."""
        found = getattr(self, "_account", None)
        if found is None:
            slug = self.program_slug()
            if slug is not None and not Program.objects.filter(slug=slug, active=True).exists():
                from ..exceptions import ProgramNotFound

                raise ProgramNotFound(gettext("No active program %(slug)r.") % {"slug": slug})
            found = get_or_create_account(self.member, program=slug)
            found = Account.objects.select_related("program", "tier", "member").get(pk=found.pk)
            self._account = found
        return found


class StaffMixin(APIMixin):
    """A staff endpoint on ``staff_model`` (see :class:`StaffPermission`)."""

    permission_classes = [StaffPermission]
    staff_model: ClassVar[type[Model]]
    #: The permission action by method, over the defaults (``view`` / ``change``).
    staff_actions: ClassVar[dict[str, str]] = {}

    def staff_action_for(self, request: Request) -> str:
        method = request.method or "GET"
        if method in self.staff_actions:
            return self.staff_actions[method]
        return "view" if method in permissions.SAFE_METHODS else "change"


class MemberAPIView(MemberMixin, APIView):
    """A member endpoint that answers one object, or a short list, unpaginated."""

    pagination_class = None


class MemberListAPIView(MemberMixin, generics.ListAPIView):
    """A paginated list of the member's own objects."""


class StaffAPIView(StaffMixin, APIView):
    """A staff endpoint that answers one object, unpaginated."""

    pagination_class = None


class StaffGenericAPIView(StaffMixin, generics.GenericAPIView):
    """A staff endpoint on a queryset (lists are paginated)."""
