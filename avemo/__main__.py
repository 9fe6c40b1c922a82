"""`python -m avemo ...` is the same as the `avemo` console script."""
import sys

from .cli import main

sys.exit(main())
