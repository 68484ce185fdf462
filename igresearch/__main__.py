"""`python -m igresearch` runs the command line."""

from .cli import main

main()
