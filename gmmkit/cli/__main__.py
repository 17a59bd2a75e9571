"""``python -m gmmkit.cli``: the same as the ``gmmkit`` console script."""
from . import main

if __name__ == "__main__":
    main()
