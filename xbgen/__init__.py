"""xbgen: generate Xen split-driver kernel modules from a declarative spec."""

__version__ = "0.1.0"
