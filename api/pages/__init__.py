"""The public web pages: server-rendered HTML (Jinja2) over the same read models as the API.

``install_pages(app)`` mounts them on the API's app (one process): ``/``, ``/pledges``,
``/pledges/{id}``, ``/networks/{id}``, ``/cities/{id}``, ``/reports``, ``/audit`` and their
stylesheet under ``/static/``. The modules:

- ``i18n``: the message catalogue (en, fr, es) and how a request's language is chosen;
- ``views``: view models built from the projections' ``XxxOut`` models, the one place where a
  page learns about a field (a new field of a read model is one addition there);
- ``charts``: bar and line charts as numbers for the SVG templates, each with its table;
- ``routes``: the pages themselves, calling the same projection functions as ``/api/v1``.
"""

from api.pages.routes import install_pages

__all__ = ["install_pages"]
