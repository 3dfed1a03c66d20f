"""Allow ``python -m bot`` as an alias of the ``advocacy`` console script."""

from bot.cli.main import main

main()
