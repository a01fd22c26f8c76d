"""`python -m xbgen` runs the command line."""

from .cli import main

main()
