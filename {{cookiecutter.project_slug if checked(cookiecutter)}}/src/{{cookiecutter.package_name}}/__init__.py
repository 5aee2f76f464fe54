"""The ``@{{ cookiecutter.connector_name }}`` pyinfra connector."""

from .connector import {{ cookiecutter.connector_class }}

__all__ = ["{{ cookiecutter.connector_class }}"]
