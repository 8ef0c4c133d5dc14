"""``python -m autoblur``: the command line."""

from autoblur.cli import main

main()
