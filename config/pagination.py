from rest_framework.pagination import LimitOffsetPagination


class DefaultPagination(LimitOffsetPagination):
    """?limit= and ?offset=, capped so that no request asks the database for everything at once."""

    default_limit = 50
    max_limit = 500
