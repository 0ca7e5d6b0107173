"""domainpriv: a registrar's registration data, its privacy-aware publication and the legal workflows."""

__version__ = "0.1.0"
__all__ = ["__version__"]
