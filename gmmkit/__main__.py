"""``python -m gmmkit`` runs the command line."""
from gmmkit.cli import main

main()
