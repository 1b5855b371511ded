"""The HTTP API's routers, one module per concern; ``api.app.create_app`` mounts them."""
