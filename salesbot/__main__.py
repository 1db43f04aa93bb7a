"""`python -m salesbot` is the `salesbot` command."""

from salesbot.cli import main

main()
