"""The REST service: FastAPI app under ``/v1`` (see :func:`cac.api.app.create_app`)."""
